import { Streams, encodeDelivery } from '@switchboard/protocol';
import type { RouterCore, RouterModule } from '../core.js';
import { broadcastUnavailable } from '../presence-broadcast.js';
import { newSession } from '../sessions/registry.js';

/** Session lifecycle: the edge's session-start and session-end envelopes. */
export const sessionsModule: RouterModule = {
  name: 'sessions',
  setup(core: RouterCore) {
    core.on('session-start', async (st, pass) => {
      const user = st.from.bare;
      const resource = st.from.resource;
      const { edgeId, sessionId } = st.env;
      const existing = await core.sessions.get(user, resource);
      // A redelivered session-start changes nothing.
      if (existing !== null && existing.sessionId === sessionId && existing.edgeId === edgeId) return true;
      if (existing !== null && existing.sessionId === sessionId) {
        // XEP-0198 §5: the session resumed on another edge. It keeps its state (presence, roster
        // interest, directed presence); deliveries go to the new edge, and the old edge drops its copy.
        // A resumed stream starts active (XEP-0352 state belongs to the stream).
        await core.sessions.put(user, { ...existing, edgeId, detached: false, inactive: false });
        pass.out.push({
          stream: Streams.deliver(existing.edgeId),
          payload: encodeDelivery({
            v: 1,
            kind: 'moved',
            id: st.childId(),
            sessionId,
            to: existing.fullJid,
            edgeId,
            ts: core.now(),
          }),
        });
        return true;
      }
      if (existing !== null) {
        // RFC 6120 §7.7.2.2: the new session wins; the old one is closed with a conflict.
        core.close(
          existing,
          'conflict',
          'Replaced by a new session for the same resource',
          st.childId(),
          pass,
        );
        if (existing.available || existing.directedTo.length > 0) {
          await core.sessions.put(user, { ...existing, available: false });
          await broadcastUnavailable(core, user, existing, null, st, pass);
        }
      }
      await core.sessions.put(user, newSession(st.env.from, resource, edgeId, sessionId, st.env.ts));
      return true;
    });

    core.on('session-state', async (st) => {
      const existing = await core.sessions.get(st.from.bare, st.from.resource);
      // Only the edge holding the session speaks for it.
      if (existing === null || existing.sessionId !== st.env.sessionId || existing.edgeId !== st.env.edgeId)
        return true;
      const state = st.env.type;
      if (state === 'detached') {
        await core.sessions.put(st.from.bare, { ...existing, detached: true });
      } else if (state === 'resumed') {
        await core.sessions.put(st.from.bare, { ...existing, detached: false, inactive: false });
      } else if (state === 'inactive' || state === 'active') {
        await core.sessions.put(st.from.bare, { ...existing, inactive: state === 'inactive' });
      }
      return true;
    });

    core.on('session-end', async (st, pass) => {
      const user = st.from.bare;
      const existing = await core.sessions.get(user, st.from.resource);
      // The end of a session that was already replaced (conflict) or is unknown.
      if (existing === null || existing.sessionId !== st.env.sessionId || existing.edgeId !== st.env.edgeId)
        return true;
      await core.sessions.remove(user, st.from.resource);
      // RFC 6121 §4.5.2: the server sends unavailable presence on behalf of a session that ended without it.
      if (existing.available || existing.directedTo.length > 0) {
        await broadcastUnavailable(core, user, existing, null, st, pass);
      }
      if ((await core.sessions.list(user)).length === 0) {
        const last = await core.sessions.getLastActivity(user);
        // Keep the status of an unavailable presence the client sent before leaving (XEP-0012 §4).
        const status = existing.available ? '' : (last?.status ?? '');
        await core.sessions.setLastActivity(user, { ts: st.env.ts, status });
      }
      return true;
    });
  },
};
