"""A slixmpp peer for the e2e scenarios: logs in over STARTTLS, gets its roster, goes online,
approves subscriptions (slixmpp's auto_authorize/auto_subscribe), echoes chat messages and
leaves on 'bye' after printing its roster.

Usage: slixmpp-peer.py JID PASSWORD PORT CA_FILE
Prints 'ready mechanism NAME tls yes|no', then 'roster JID SUBSCRIPTION' lines at 'bye'.
"""
import asyncio
import logging
import os
import sys

import slixmpp

if os.environ.get("SLIX_DEBUG"):
    logging.basicConfig(level=logging.DEBUG)


class Peer(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.add_event_handler('session_start', self.start)
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('failed_all_auth', lambda _e: self.disconnect())

    async def start(self, _event):
        await self.get_roster()
        self.send_presence()
        secure = self.transport is not None and self.transport.get_extra_info('sslcontext') is not None
        print('ready mechanism', self['feature_mechanisms'].mech.name, 'tls', 'yes' if secure else 'no', flush=True)

    def on_message(self, msg):
        if msg['type'] not in ('chat', 'normal'):
            return
        body = msg['body']
        if body == 'bye':
            for jid in self.client_roster:
                if jid != self.boundjid.bare:
                    print('roster', jid, self.client_roster[jid]['subscription'], flush=True)
            self.disconnect()
        else:
            msg.reply('echo: ' + body).send()


def main():
    jid, password, port, ca_file = sys.argv[1:5]
    xmpp = Peer(jid, password)
    xmpp.ca_certs = ca_file
    xmpp.connect(('127.0.0.1', int(port)), use_ssl=False, force_starttls=True)
    xmpp.loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, 30))


if __name__ == '__main__':
    main()
