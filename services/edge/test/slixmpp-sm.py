"""Stream management (XEP-0198) with slixmpp: enables resumable SM, sends two messages, has
them acked, and counts what the server delivers until a message with body 'bye'.

Usage: slixmpp-sm.py JID PASSWORD PORT CA_FILE TO
Prints 'enabled ID RESUME', 'acked N' once both messages are acked, and 'handled H' at 'bye'.
"""
import asyncio
import sys

import slixmpp


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, to):
        super().__init__(jid, password)
        self.to = to
        self.acked = 0
        self.register_plugin('xep_0198')
        self['xep_0198'].allow_resume = True
        self.add_event_handler('sm_enabled', self.enabled)
        self.add_event_handler('stanza_acked', self.on_acked)
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('failed_all_auth', lambda _e: self.disconnect())

    def enabled(self, stanza):
        print('enabled', stanza['id'], stanza['resume'], flush=True)
        for body in ('one', 'two'):
            self.send_message(mto=self.to, mbody=body, mtype='chat')
        self.loop.call_soon(self.ask)

    def ask(self):
        # Messages leave through slixmpp's async filters, <r/> raw and at once: ask until both are acked.
        if self.acked < 2:
            self['xep_0198'].request_ack()
            self.loop.call_later(0.2, self.ask)

    def on_acked(self, stanza):
        if stanza.name != 'message':
            return
        self.acked += 1
        if self.acked == 2:
            # last_ack is updated after the stanza_acked events of one <a/>.
            self.loop.call_soon(lambda: print('acked', self['xep_0198'].last_ack, flush=True))

    def on_message(self, msg):
        if msg['body'] == 'bye':
            print('handled', self['xep_0198'].handled, flush=True)
            self.disconnect()


def main():
    jid, password, port, ca_file, to = sys.argv[1:6]
    xmpp = Client(jid, password, to)
    xmpp.ca_certs = ca_file
    xmpp.connect(('127.0.0.1', int(port)), use_ssl=False, force_starttls=True)
    xmpp.loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, 20))


if __name__ == '__main__':
    main()
