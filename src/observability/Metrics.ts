/**
 * MetalLB's Prometheus metrics, with MetalLB's names, types and labels, so existing dashboards and alerts
 * (MetalLBStaleConfig, MetalLBAddressPoolExhausted, MetalLBBGPSessionDown, ...) keep working.
 *
 * Series whose subject goes away (an announced IP, a closed BGP session) are removed, not left at a stale value,
 * as MetalLB does: use {@link remove} with the same labels.
 *
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"

// Allocator (controller), label `pool`.
export const addressesTotal = Metric.gauge("metallb_allocator_addresses_total", {
  description: "Number of usable IP addresses, per pool"
})
export const ipv4AddressesTotal = Metric.gauge("metallb_allocator_ipv4_addresses_total", {
  description: "Number of usable IPv4 addresses, per pool"
})
export const ipv6AddressesTotal = Metric.gauge("metallb_allocator_ipv6_addresses_total", {
  description: "Number of usable IPv6 addresses, per pool"
})
export const addressesInUse = Metric.gauge("metallb_allocator_addresses_in_use_total", {
  description: "Number of IP addresses in use, per pool"
})
export const ipv4AddressesInUse = Metric.gauge("metallb_allocator_ipv4_addresses_in_use_total", {
  description: "Number of IPv4 addresses in use, per pool"
})
export const ipv6AddressesInUse = Metric.gauge("metallb_allocator_ipv6_addresses_in_use_total", {
  description: "Number of IPv6 addresses in use, per pool"
})
// MetalLB registers this one but never sets it; we do set it (services holding an IP of the pool).
export const servicesAllocated = Metric.gauge("metallb_allocator_services_allocated_total", {
  description: "Number of services allocated, per pool"
})

// Kubernetes client (both programs).
export const k8sUpdates = Metric.counter("metallb_k8s_client_updates_total", {
  description: "Number of k8s object updates that have been processed."
})
export const k8sUpdateErrors = Metric.counter("metallb_k8s_client_update_errors_total", {
  description: "Number of k8s object updates that failed for some reason."
})
export const configLoaded = Metric.gauge("metallb_k8s_client_config_loaded_bool", {
  description: "1 if the MetalLB configuration was successfully loaded at least once."
})
export const configStale = Metric.gauge("metallb_k8s_client_config_stale_bool", {
  description: "1 if running on a stale configuration, because the latest config failed to load."
})

// Speaker.
export const speakerAnnounced = Metric.gauge("metallb_speaker_announced", {
  description: "Services being announced from this node. This is desired state, it does not guarantee that the routing protocols have converged."
})
export const layer2RequestsReceived = Metric.counter("metallb_layer2_requests_received", {
  description: "Number of layer2 requests received for owned IPs"
})
export const layer2ResponsesSent = Metric.counter("metallb_layer2_responses_sent", {
  description: "Number of layer2 responses sent for owned IPs in response to requests"
})
export const layer2GratuitousSent = Metric.counter("metallb_layer2_gratuitous_sent", {
  description: "Number of gratuitous layer2 packets sent for owned IPs as a result of failovers"
})
// Not in MetalLB: malformed frames are dropped and counted (label `interface`).
export const layer2MalformedDropped = Metric.counter("metallb_layer2_malformed_frames_dropped", {
  description: "Number of received layer2 frames dropped because they could not be decoded"
})

// BGP, label `peer` = "address:port".
export const bgpSessionUp = Metric.gauge("metallb_bgp_session_up", {
  description: "BGP session state (1 is up, 0 is down)"
})
export const bgpUpdatesSent = Metric.counter("metallb_bgp_updates_total", {
  description: "Number of BGP UPDATE messages sent"
})
export const bgpAnnouncedPrefixes = Metric.gauge("metallb_bgp_announced_prefixes_total", {
  description: "Number of prefixes currently being advertised on the BGP session"
})
export const bgpPendingPrefixes = Metric.gauge("metallb_bgp_pending_prefixes_total", {
  description: "Number of prefixes that should be advertised on the BGP session"
})
export const bgpOpensSent = Metric.counter("metallb_bgp_opens_sent", { description: "Number of BGP open messages sent" })
export const bgpOpensReceived = Metric.counter("metallb_bgp_opens_received", {
  description: "Number of BGP open messages received"
})
export const bgpNotificationsSent = Metric.counter("metallb_bgp_notifications_sent", {
  description: "Number of BGP notification messages sent"
})
export const bgpUpdatesReceived = Metric.counter("metallb_bgp_updates_total_received", {
  description: "Number of BGP UPDATE messages received"
})
export const bgpKeepalivesSent = Metric.counter("metallb_bgp_keepalives_sent", {
  description: "Number of BGP keepalive messages sent"
})
export const bgpKeepalivesReceived = Metric.counter("metallb_bgp_keepalives_received", {
  description: "Number of BGP keepalive messages received"
})
// BFD, labels `peer` (the peer's address) and `vrf` (always "default"), as MetalLB's FRR mode exports them. The
// echo and zebra counters of that mode are not exported: there is no echo mode and no zebra here.
export const bfdSessionUp = Metric.gauge("metallb_bfd_session_up", {
  description: "BFD session state (1 is up, 0 is down)"
})
export const bfdControlPacketInput = Metric.counter("metallb_bfd_control_packet_input", {
  description: "Number of received BFD control packets"
})
export const bfdControlPacketOutput = Metric.counter("metallb_bfd_control_packet_output", {
  description: "Number of sent BFD control packets"
})
export const bfdSessionUpEvents = Metric.counter("metallb_bfd_session_up_events", {
  description: "Number of BFD session up events"
})
export const bfdSessionDownEvents = Metric.counter("metallb_bfd_session_down_events", {
  description: "Number of BFD session down events"
})

export type Labels = Readonly<Record<string, string>>

/** Sets a gauge / adds to a counter for one labelled series. */
export const update = <In, S>(metric: Metric.Metric<In, S>, labels: Labels, value: In): Effect.Effect<void> =>
  Metric.update(Metric.withAttributes(metric, labels), value)

/** Removes one labelled series (its subject went away). */
export const remove = <In, S>(metric: Metric.Metric<In, S>, labels: Labels): Effect.Effect<void> =>
  Metric.remove(metric).pipe(Effect.provideService(Metric.CurrentMetricAttributes, labels))

/** The registry in Prometheus text exposition format (version 0.0.4). */
export const exposition: Effect.Effect<string> = PrometheusMetrics.format()
