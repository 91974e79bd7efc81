// Package controllerutil holds what skiff's workload controllers share: the
// expectations that keep a controller from acting on a stale cache, pod
// readiness and availability (and node readiness), the worker loop over a
// rate-limited queue of namespace/name keys, owner-reference adopt/release
// patches and the event recorder. It owns no controller logic of its own
// and talks to the cluster only through client-go.
package controllerutil
