// What a cgroup's path tells a user: the container (Docker, containerd, CRI-O, Podman)
// and its id, the Kubernetes pod uid, the systemd unit, and a short name to show.
import type { ContainerRuntime } from './types.js';

export interface CgroupIdentity {
  name: string;
  container?: { runtime: ContainerRuntime; id: string };
  podUid?: string;
  unit?: string;
}

const ID = '([0-9a-f]{64})';

// Each runtime's path component, as systemd's driver (…scope) or cgroupfs (a bare id
// under the runtime's directory) names it.
const CONTAINER_PATTERNS: readonly [RegExp, ContainerRuntime][] = [
  [new RegExp(`^docker-${ID}\\.scope$`), 'docker'],
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), 'containerd'],
  [new RegExp(`^crio-${ID}\\.scope$`), 'cri-o'],
  [new RegExp(`^libpod-${ID}\\.scope$`), 'podman'],
];
const PARENT_RUNTIMES: Readonly<Record<string, ContainerRuntime>> = { docker: 'docker', containerd: 'containerd', libpod_parent: 'podman' };

// kubepods-burstable-pod<uid with _>.slice (systemd) or pod<uid> (cgroupfs).
const POD = /^(?:kubepods(?:-[a-z]+)*-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
const UNIT = /\.(service|slice|scope|socket|mount|swap)$/;

/** Names a cgroup from its path below the root ("/system.slice/docker-<id>.scope"). */
export function identifyCgroup(path: string): CgroupIdentity {
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0) return { name: '/' };
  const identity: CgroupIdentity = { name: parts[parts.length - 1] };
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const pod = POD.exec(part);
    if (pod) identity.podUid = pod[1].replaceAll('_', '-');
    if (UNIT.test(part)) identity.unit = part;
    for (const [pattern, runtime] of CONTAINER_PATTERNS) {
      const match = pattern.exec(part);
      if (match) identity.container = { runtime, id: match[1] };
    }
    // cgroupfs layouts: /docker/<id>, /kubepods/burstable/pod<uid>/<id>.
    const bare = new RegExp(`^${ID}$`).exec(part);
    if (bare && i > 0) {
      const runtime = PARENT_RUNTIMES[parts[i - 1]] ?? (identity.podUid ? 'containerd' : undefined);
      if (runtime) identity.container = { runtime, id: bare[1] };
    }
  }
  const last = parts[parts.length - 1];
  if (identity.container && last.includes(identity.container.id)) {
    identity.name = `${identity.container.runtime} ${identity.container.id.slice(0, 12)}`;
  } else if (identity.podUid && POD.test(last)) {
    identity.name = `pod ${identity.podUid}`;
  }
  return identity;
}
