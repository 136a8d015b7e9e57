import { xml } from '@switchboard/xml';
import { SOFTWARE_NAME } from '../config.js';
import type { RouterCore, RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';

const VERSION_NS = 'jabber:iq:version';

/** XEP-0092: name and version of the server software (no OS: §5 suggests not revealing it). */
export const versionModule: RouterModule = {
  name: 'version',
  setup(core: RouterCore) {
    core.feature(VERSION_NS);
    core.iq('host', VERSION_NS, (st) =>
      Promise.resolve(
        st.type === 'get'
          ? xml(
              'query',
              { xmlns: VERSION_NS },
              xml('name', {}, SOFTWARE_NAME),
              xml('version', {}, core.config.version ?? '0.0.0'),
            )
          : new StanzaError('bad-request'),
      ),
    );
  },
};
