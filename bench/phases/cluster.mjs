// cluster: GET /api/auth/me on Latch with a private 6-node Redis Cluster (scripts/redis-cluster.sh);
// its row is printed by the me phase next to the standalone and bare rows.
import { measureLatch } from '../lib/latch.mjs';
import { startPrivateCluster, stopCluster } from '../lib/services.mjs';

/** Starts the private cluster, measures Latch on it, stops the cluster: `{ result, cookies }`. */
export async function clusterPhase(opts, throttle) {
  console.log('Starting a private 6-node Redis Cluster (scripts/redis-cluster.sh) ...');
  const t0 = Date.now();
  const cluster = await startPrivateCluster();
  console.log(`  cluster up in ${((Date.now() - t0) / 1000).toFixed(1)}s on ports ${cluster.ports[0]}-${cluster.ports.at(-1)}`);
  try {
    return await measureLatch('latch on redis cluster', cluster.url, 'c', opts, throttle.env);
  } finally {
    await stopCluster(cluster.dir);
  }
}
