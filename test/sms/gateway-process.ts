// services/sms-gateway as its own process (`node services/sms-gateway/dist/main.js`, built by
// `pnpm -s build`) with a JSON config file: what a deployment runs, stopped with SIGTERM or killed.
import { ServiceProcess } from '../support/service-process.js';

export type { LogLine } from '../support/service-process.js';

export class GatewayProcess extends ServiceProcess {
  /** Starts the process and waits until it logged `sms gateway ready` and its component went online. */
  static start(name: string, config: Record<string, unknown>): Promise<GatewayProcess> {
    return ServiceProcess.launch((dir) => new GatewayProcess(name, dir), 'sms-gateway', config, [
      'sms gateway ready',
      'component online',
    ]);
  }
}
