// English, the guide's first language. A translation is a sibling directory with the same files.
import type { GuideText } from "../../text";
import { adminKubeconfig } from "./admin-kubeconfig";
import { certificateAuthority } from "./certificate-authority";
import { common } from "./common";
import { controlPlane } from "./control-plane";
import { dns } from "./dns";
import { encryption } from "./encryption";
import { etcd } from "./etcd";
import { kubeconfigs } from "./kubeconfigs";
import { loadBalancer } from "./load-balancer";
import { podNetwork } from "./pod-network";
import { prerequisites } from "./prerequisites";
import { rbacKubelet } from "./rbac-kubelet";
import { smokeTest } from "./smoke-test";
import { tlsBootstrap } from "./tls-bootstrap";
import { workers } from "./workers";

export const en: GuideText = {
  common,
  chapters: {
    prerequisites,
    "certificate-authority": certificateAuthority,
    kubeconfigs,
    encryption,
    etcd,
    "control-plane": controlPlane,
    "load-balancer": loadBalancer,
    workers,
    "tls-bootstrap": tlsBootstrap,
    "admin-kubeconfig": adminKubeconfig,
    "pod-network": podNetwork,
    "rbac-kubelet": rbacKubelet,
    dns,
    "smoke-test": smokeTest,
  },
};
