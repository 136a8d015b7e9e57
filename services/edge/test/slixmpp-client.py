"""Logs in with slixmpp over STARTTLS, sends one message and disconnects.

Usage: slixmpp-client.py JID PASSWORD PORT CA_FILE TO BODY
Prints 'tls yes|no', 'mechanism NAME' and 'sent'; exits non-zero when it could not send.
"""
import asyncio
import sys

import logging
import os

import slixmpp

if os.environ.get("SLIX_DEBUG"):
    logging.basicConfig(level=logging.DEBUG)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, to, body):
        super().__init__(jid, password)
        self.to = to
        self.body = body
        self.ok = False
        self.add_event_handler('session_start', self.start)
        self.add_event_handler('failed_all_auth', lambda _e: self.disconnect())

    async def start(self, _event):
        secure = self.transport is not None and self.transport.get_extra_info('sslcontext') is not None
        print('tls', 'yes' if secure else 'no', flush=True)
        print('mechanism', self['feature_mechanisms'].mech.name, flush=True)
        self.send_message(mto=self.to, mbody=self.body, mtype='chat')
        self.ok = True
        await asyncio.sleep(0.2)
        self.disconnect()


def main():
    jid, password, port, ca_file, to, body = sys.argv[1:7]
    xmpp = Client(jid, password, to, body)
    xmpp.ca_certs = ca_file
    xmpp.connect(('127.0.0.1', int(port)), use_ssl=False, force_starttls=True)
    # process(timeout=…) passes a bare coroutine to asyncio.wait, which Python 3.11 refuses.
    xmpp.loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, 15))
    print('sent' if xmpp.ok else 'not sent', flush=True)
    sys.exit(0 if xmpp.ok else 1)


if __name__ == '__main__':
    main()
