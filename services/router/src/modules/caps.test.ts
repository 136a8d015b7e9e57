import { describe, expect, it } from 'vitest';
import { parseElement } from '@switchboard/xml';
import { capsVer, verificationString } from './caps.js';

describe('entity capabilities hash (XEP-0115 §5)', () => {
  it('computes the simple example of §5.2', () => {
    const query = parseElement(
      "<query xmlns='http://jabber.org/protocol/disco#info' node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='><identity category='client' name='Exodus 0.9.1' type='pc'/><feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/></query>",
    );
    expect(verificationString(query)).toBe(
      'client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<',
    );
    expect(capsVer(query, 'sha-1')).toBe('QgayPKawpkPSDYmwT/WM94uAlu0=');
  });

  it('computes the complex example of §5.3, with languages and an extended form', () => {
    const query = parseElement(
      `<query xmlns='http://jabber.org/protocol/disco#info' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
<identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
<feature var='http://jabber.org/protocol/caps'/>
<feature var='http://jabber.org/protocol/disco#info'/>
<feature var='http://jabber.org/protocol/disco#items'/>
<feature var='http://jabber.org/protocol/muc'/>
<x xmlns='jabber:x:data' type='result'>
<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
<field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>
<field var='os'><value>Mac</value></field>
<field var='os_version'><value>10.5.1</value></field>
<field var='software'><value>Psi</value></field>
<field var='software_version'><value>0.11</value></field>
</x>
</query>`,
    );
    expect(capsVer(query, 'sha-1')).toBe('q07IKJEyjvHSyhy//CH0CxmKi8w=');
    expect(capsVer(query, 'no-such-hash')).toBeUndefined();
  });
});
