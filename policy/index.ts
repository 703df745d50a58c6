/**
 * The policy pack `pulumi preview --policy-pack policy` runs. Constructing the PolicyPack starts the
 * analyzer's gRPC server, which is why the policies themselves live in policies.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_ENFORCEMENT, PACK_NAME, policies } from "./policies";

new PolicyPack(PACK_NAME, {
  description:
    "Guards for GPU inference on AKS: scheduling, node pool size, data-service hardening, images, availability.",
  enforcementLevel: PACK_ENFORCEMENT,
  policies,
});
