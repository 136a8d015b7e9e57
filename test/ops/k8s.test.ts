// deploy/k8s rendered by kustomize (`kubectl kustomize`, no cluster needed) and checked against the
// rules rolling updates and drains depend on. No Kubernetes schema validator (helm, kubeconform) is
// installable here: the manifests are checked by these assertions, and every Deployment's
// environment is loaded through its service's config schema.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, z } from '@switchboard/kit';
import { edgeConfigSchema } from '../../services/edge/src/config.js';
import { ircGatewayConfigSchema } from '../../services/irc-gateway/src/config.js';
import { mucConfigSchema } from '../../services/muc/src/config.js';
import { adminConfigSchema } from '../../services/router/src/admin/index.js';
import { clusterConfigSchema } from '../../services/router/src/cluster/config.js';
import { s2sProcessConfigSchema } from '../../services/s2s/src/config.js';
import { smsGatewayConfigSchema } from '../../services/sms-gateway/src/config.js';
import { ROOT } from '../cluster/haproxy.js';

const pexec = promisify(execFile);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}
interface Container {
  name: string;
  image: string;
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: unknown };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
}
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface DeploymentSpec {
  selector: { matchLabels: Record<string, string> };
  strategy?: { rollingUpdate?: { maxUnavailable?: number } };
  template: {
    spec: {
      terminationGracePeriodSeconds: number;
      securityContext: { runAsNonRoot?: boolean; runAsUser?: number };
      containers: Container[];
    };
  };
}

// The process schemas as each main.ts boots them (router and sms-gateway add the admin section there).
const SCHEMAS: Record<string, z.ZodType> = {
  edge: edgeConfigSchema,
  router: clusterConfigSchema.extend({ admin: adminConfigSchema }),
  'sms-gateway': smsGatewayConfigSchema.extend({
    admin: z.object({ token: z.string().min(16).optional() }).prefault({}),
  }),
  muc: mucConfigSchema,
  'irc-gateway': ircGatewayConfigSchema,
  s2s: s2sProcessConfigSchema,
};

describe('Kubernetes manifests (deploy/k8s, kustomize)', () => {
  let manifests: Manifest[];
  const of = (kind: string): Manifest[] => manifests.filter((m) => m.kind === kind);
  const deployments = (): [string, DeploymentSpec][] =>
    of('Deployment').map((d) => [d.metadata.name, d.spec as unknown as DeploymentSpec]);

  beforeAll(async () => {
    const { stdout } = await pexec('kubectl', ['kustomize', join(ROOT, 'deploy/k8s')]);
    manifests = parseAllDocuments(stdout).map((d) => d.toJSON() as Manifest);
  });

  it('has a Deployment for every service, all in the switchboard namespace', () => {
    expect(
      deployments()
        .map(([n]) => n)
        .sort(),
    ).toEqual(Object.keys(SCHEMAS).sort());
    for (const m of manifests.filter((m) => m.kind !== 'Namespace'))
      expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe('switchboard');
  });

  it('probes readiness on /readyz and liveness on /healthz, and drains before the pod goes', () => {
    for (const [name, spec] of deployments()) {
      const pod = spec.template.spec;
      const [container] = pod.containers;
      expect(container?.readinessProbe?.httpGet, name).toMatchObject({ path: '/readyz', port: 'ops' });
      expect(container?.livenessProbe?.httpGet, name).toMatchObject({ path: '/healthz', port: 'ops' });
      expect(container?.ports.find((p) => p.name === 'ops')?.containerPort, name).toBe(9280);
      expect(container?.lifecycle?.preStop, name).toBeDefined();
      // preStop (5 s) + the edge's drain (10 s by default) + finishing in-flight work.
      expect(pod.terminationGracePeriodSeconds, name).toBeGreaterThanOrEqual(30);
      // A rolling update starts the new pod (ready on /readyz) before an old one drains.
      expect(spec.strategy?.rollingUpdate?.maxUnavailable, name).toBe(0);
    }
  });

  it('runs every container as a non-root user without privilege escalation, on a read-only root', () => {
    for (const [name, spec] of deployments()) {
      const pod = spec.template.spec;
      expect(pod.securityContext.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext.runAsUser, name).not.toBe(0);
      for (const c of pod.containers) {
        expect(c.securityContext, name).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
        });
        expect(c.image, name).toMatch(/^switchboard\/[a-z0-9-]+:\d+\.\d+\.\d+$/);
      }
    }
  });

  it('has a PodDisruptionBudget selecting each Deployment, and an HPA scaling the edges', () => {
    const pdbs = of('PodDisruptionBudget');
    for (const [name, spec] of deployments()) {
      const pdb = pdbs.find(
        (p) =>
          JSON.stringify((p.spec['selector'] as { matchLabels: unknown }).matchLabels) ===
          JSON.stringify(spec.selector.matchLabels),
      );
      expect(pdb, name).toBeDefined();
    }
    const hpas = of('HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec['scaleTargetRef'])).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'edge' },
    ]);
    expect(hpas[0]?.spec['minReplicas']).toBeGreaterThanOrEqual(2);
  });

  it('exposes the edges through a LoadBalancer on 5222, 5223 and 5280', () => {
    const edge = of('Service').find((s) => s.metadata.name === 'edge');
    expect(edge?.spec['type']).toBe('LoadBalancer');
    expect((edge?.spec['ports'] as { port: number }[]).map((p) => p.port)).toEqual([5222, 5223, 5280]);
  });

  it('reads Redis by URL and the admin token from the Secret', () => {
    for (const [name, spec] of deployments()) {
      const env = spec.template.spec.containers[0]!.env;
      expect(env.find((e) => e.name === 'SWITCHBOARD_REDIS_URL')?.valueFrom?.secretKeyRef, name).toEqual({
        name: 'switchboard',
        key: 'redis-url',
      });
      if (name === 'router' || name === 'sms-gateway')
        expect(env.find((e) => e.name === 'SWITCHBOARD_ADMIN__TOKEN')?.valueFrom?.secretKeyRef, name).toEqual(
          {
            name: 'switchboard',
            key: 'admin-token',
          },
        );
    }
  });

  it('gives every service an environment its config schema accepts (values from the ConfigMap and the example Secret)', () => {
    const configMap = of('ConfigMap').find((m) => m.metadata.name === 'switchboard')?.data ?? {};
    const secret = of('Secret').find((m) => m.metadata.name === 'switchboard')?.stringData ?? {};
    for (const [name, spec] of deployments()) {
      const env: Record<string, string> = {};
      for (const v of spec.template.spec.containers[0]!.env) {
        const from = v.valueFrom;
        const value =
          v.value ??
          (from?.configMapKeyRef !== undefined
            ? configMap[from.configMapKeyRef.key]
            : from?.secretKeyRef !== undefined
              ? secret[from.secretKeyRef.key]
              : from?.fieldRef !== undefined
                ? `${name}-7d9f-abcde`
                : undefined);
        expect(value, `${name} ${v.name}`).toBeDefined();
        env[v.name] = value!.replace('$(POD_NAME)', env['POD_NAME'] ?? '');
      }
      const schema = SCHEMAS[name]!;
      expect(() => loadConfig(schema, { env }), name).not.toThrow();
    }
  });
});
