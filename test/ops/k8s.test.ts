// deploy/k8s rendered by kustomize (`kubectl kustomize`, no cluster needed), every object validated
// against the Kubernetes OpenAPI schemas (kubernetes-models: Kubernetes v1.36, compiled to ajv
// validators, offline — helm and kubeconform cannot be installed here; like kubeconform without
// -strict, fields the schemas don't define are not rejected), then checked against the
// rules rolling updates and drains depend on; every Deployment's environment is loaded through its
// service's config schema.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import * as kubernetesModels from 'kubernetes-models';
import { loadConfig, z } from '@switchboard/kit';
import { edgeConfigSchema } from '../../services/edge/src/config.js';
import { ircGatewayConfigSchema } from '../../services/irc-gateway/src/config.js';
import { mucConfigSchema } from '../../services/muc/src/config.js';
import { adminConfigSchema } from '../../services/router/src/admin/index.js';
import { clusterConfigSchema } from '../../services/router/src/cluster/config.js';
import { s2sProcessConfigSchema } from '../../services/s2s/src/config.js';
import { smsGatewayConfigSchema } from '../../services/sms-gateway/src/config.js';
import { uploadConfigSchema } from '../../services/upload/src/config.js';
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
  apiVersion: string;
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
  upload: uploadConfigSchema,
};

/** A kubernetes-models class: `new Kind(object).validate()` throws a ValidationError listing every violation. */
interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  new (data: object): { validate(): void };
}

function isModelClass(value: unknown): value is ModelClass {
  return (
    typeof value === 'function' &&
    typeof (value as Partial<ModelClass>).apiVersion === 'string' &&
    typeof (value as Partial<ModelClass>).kind === 'string'
  );
}

/** Every built-in kind the schemas know, by `apiVersion kind` (namespaces nest group → version → Kind). */
function modelRegistry(): Map<string, ModelClass> {
  const registry = new Map<string, ModelClass>();
  const visit = (namespace: object): void => {
    for (const value of Object.values(namespace)) {
      if (isModelClass(value)) registry.set(`${value.apiVersion} ${value.kind}`, value);
      else if (typeof value === 'object' && value !== null) visit(value as object);
    }
  };
  visit(kubernetesModels);
  return registry;
}

const MODELS = modelRegistry();

/** Schema violations of one rendered object; an apiVersion/kind the schemas don't know is one too. */
function schemaErrors(object: { apiVersion?: unknown; kind?: unknown }): string | undefined {
  const model = MODELS.get(`${String(object.apiVersion)} ${String(object.kind)}`);
  if (model === undefined) return `unknown kind ${String(object.apiVersion)} ${String(object.kind)}`;
  try {
    new model(object).validate();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe('Kubernetes manifests (deploy/k8s, kustomize)', () => {
  let manifests: Manifest[];
  const of = (kind: string): Manifest[] => manifests.filter((m) => m.kind === kind);
  const deployments = (): [string, DeploymentSpec][] =>
    of('Deployment').map((d) => [d.metadata.name, d.spec as unknown as DeploymentSpec]);

  beforeAll(async () => {
    const { stdout } = await pexec('kubectl', ['kustomize', join(ROOT, 'deploy/k8s')]);
    manifests = parseAllDocuments(stdout).map((d) => d.toJSON() as Manifest);
  });

  it('validates every rendered object against the Kubernetes schemas of its apiVersion and kind', () => {
    expect(MODELS.get('apps/v1 Deployment')).toBeDefined();
    expect(manifests.length).toBeGreaterThan(20);
    for (const m of manifests) expect(schemaErrors(m), `${m.kind}/${m.metadata.name}`).toBeUndefined();
    // Every kind we render, so a new one is validated too rather than slipping through.
    expect([...new Set(manifests.map((m) => `${m.apiVersion} ${m.kind}`))].sort()).toEqual([
      'apps/v1 Deployment',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 Namespace',
      'v1 PersistentVolumeClaim',
      'v1 Secret',
      'v1 Service',
    ]);
  });

  it('rejects broken copies of rendered objects, and kinds the schemas do not know', () => {
    const deployment = of('Deployment').find((d) => d.metadata.name === 'edge')!;
    const broken = (mutate: (d: DeploymentSpec & { replicas?: unknown }) => void): Manifest => {
      const copy = structuredClone(deployment);
      mutate(copy.spec as unknown as DeploymentSpec);
      return copy;
    };
    expect(schemaErrors(deployment)).toBeUndefined();
    expect(schemaErrors(broken((s) => (s.replicas = 'two')))).toMatch(/spec\/replicas must be integer/);
    expect(schemaErrors(broken((s) => delete (s as Partial<DeploymentSpec>).selector))).toMatch(
      /spec must have required property selector/,
    );
    expect(
      schemaErrors(
        broken((s) => (s.template.spec.containers[0]!.ports[0]!.containerPort = 'xmpp' as unknown as number)),
      ),
    ).toMatch(/containers\/0\/ports\/0\/containerPort must be integer/);
    const hpa = structuredClone(of('HorizontalPodAutoscaler')[0]!);
    delete hpa.spec['maxReplicas'];
    expect(schemaErrors(hpa)).toMatch(/spec must have required property maxReplicas/);
    const pdb = structuredClone(of('PodDisruptionBudget')[0]!);
    pdb.spec['selector'] = 'app=edge';
    expect(schemaErrors(pdb)).toMatch(/spec\/selector must be object/);
    // A misspelt apiVersion or kind fails rather than going unvalidated.
    expect(schemaErrors({ ...deployment, apiVersion: 'apps/v1beta3' })).toBe(
      'unknown kind apps/v1beta3 Deployment',
    );
    expect(schemaErrors({ ...deployment, kind: 'Deploymnet' })).toBe('unknown kind apps/v1 Deploymnet');
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

  it('serves HTTP File Upload on 5281 from shared storage, with its slot secret from the Secret', () => {
    const configMap = of('ConfigMap').find((m) => m.metadata.name === 'switchboard')?.data ?? {};
    const uploadDomain = configMap['upload-domain'];
    expect(uploadDomain).toBe(`upload.${configMap['domains']}`);
    // The routers hand `upload.<domain>` stanzas to the component (XEP-0363 slot requests).
    expect(configMap['components']?.split(',')).toContain(uploadDomain);
    expect(configMap['upload-public-url']).toBe(`https://${uploadDomain}:5281`);

    const service = of('Service').find((s) => s.metadata.name === 'upload');
    expect(service?.spec['type']).toBe('LoadBalancer');
    expect(service?.spec['ports']).toEqual([
      { name: 'https', port: 5281, targetPort: 5281, protocol: 'TCP' },
    ]);

    const [, spec] = deployments().find(([n]) => n === 'upload')!;
    const pod = spec.template.spec as DeploymentSpec['template']['spec'] & {
      volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[];
    };
    const container = pod.containers[0]!;
    const env = new Map(container.env.map((e) => [e.name, e]));
    expect(env.get('SWITCHBOARD_SECRET')?.valueFrom?.secretKeyRef).toEqual({
      name: 'switchboard',
      key: 'upload-secret',
    });
    expect(env.get('SWITCHBOARD_HTTP__PORT')?.value).toBe('5281');
    expect(env.get('SWITCHBOARD_OPS__PORT')?.value).toBe('9280');
    expect(container.ports.find((p) => p.name === 'https')?.containerPort).toBe(5281);
    // Two replicas serve each other's files: dataDir is on one ReadWriteMany claim.
    expect((spec as unknown as { replicas: number }).replicas).toBe(2);
    const dataDir = env.get('SWITCHBOARD_DATA_DIR')?.value;
    const mounts = (container as Container & { volumeMounts: { name: string; mountPath: string }[] })
      .volumeMounts;
    const dataVolume = pod.volumes.find((v) => v.name === mounts.find((m) => m.mountPath === dataDir)?.name);
    const claim = of('PersistentVolumeClaim').find(
      (c) => c.metadata.name === dataVolume?.persistentVolumeClaim?.claimName,
    );
    expect(claim?.spec['accessModes']).toEqual(['ReadWriteMany']);
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
