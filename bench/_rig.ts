import { prepareRig } from './harness.ts';
const rig = await prepareRig('memrig', Number(process.env.PODS ?? 2000), Number(process.env.LINES ?? 20), 150);
console.log(JSON.stringify({ kubeconfig: rig.kubeconfig, podsDir: rig.podsDir, root: rig.root }));
process.on('SIGTERM', () => { void rig.close().then(() => process.exit(0)); });
setInterval(() => {}, 1 << 30);
