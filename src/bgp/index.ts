/**
 * `metallb-ts/bgp`: BGP-4 (RFC 4271) as pure pieces plus effectful shells. The codec, the FSM (`Fsm.step`) and UPDATE
 * packing are pure; `FsmTimers` runs the FSM's timers on Effect's Clock; `Bfd` runs BFD sessions over UDP. The
 * fast-check arbitraries (`Arbitraries`, `FsmArbitraries`) are public so code built on these can be property-tested.
 * Nothing here loads Kubernetes or layer 2 code.
 *
 * @since 0.1.0
 */

/** Message types, capability codes, attribute types and the message model shared by the codec and the speaker. */
export * as Message from "./Message.ts"
/** Encode and decode whole BGP messages (RFC 4271, 6793 four-octet AS, 8654 extended messages, 7606 errors). */
export * as Codec from "./Codec.ts"
/** Path attribute codec and community helpers. */
export * as Attributes from "./Attributes.ts"
/** OPEN capability codec. */
export * as Capabilities from "./Capabilities.ts"
/** NOTIFICATION codes, subcodes, descriptions and the codec's `BgpDecodeError`. */
export * as Notification from "./Notification.ts"
/** IPv4/IPv6 NLRI prefixes. */
export * as Prefix from "./Prefix.ts"
/** Splits a TCP byte stream into BGP messages. */
export * as MessageReader from "./MessageReader.ts"
/** OPEN validation and negotiation (hold time, families, four-octet AS, graceful restart). */
export * as Negotiation from "./Negotiation.ts"
/** Packs many prefixes into as few UPDATEs as the message size allows. */
export * as UpdatePacker from "./UpdatePacker.ts"
/** The RFC 4271 §8 state machine as a pure function: `Fsm.step(state, event)` → next state and actions. */
export * as Fsm from "./Fsm.ts"
/** The FSM's timers (ConnectRetry, Hold, Keepalive, DelayOpen) on Effect's Clock, delivering expiry events. */
export * as FsmTimers from "./FsmTimers.ts"
/** fast-check arbitraries for the FSM: configurations, events, traces, reachable states. */
export * as FsmArbitraries from "./FsmArbitraries.ts"
/** fast-check arbitraries for the codec: messages, encoded bytes, mutations. */
export * as Arbitraries from "./Arbitraries.ts"
/** BFD control packets (RFC 5880). */
export * as BfdPacket from "./BfdPacket.ts"
/** The BFD session state machine as pure functions. */
export * as BfdFsm from "./BfdFsm.ts"
/** The `Bfd` service: BFD sessions over UDP (RFC 5881). */
export * as Bfd from "./Bfd.ts"

/** The `BgpSession` service: one peer's TCP connection, FSM, timers and reconnect schedule around `Fsm.step`. */
export * as BgpSession from "./BgpSession.ts"
/** The `BgpSpeaker` service: per-peer RIB-out, diffed and sent as packed UPDATEs on each Established connection. */
export * as BgpSpeaker from "./BgpSpeaker.ts"
