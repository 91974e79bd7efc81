package proxy

// Hooks for the external test package (proxy_test), which runs the proxy
// against the in-process API server: that harness imports internal/app,
// which imports this package, so those tests cannot live inside it.

// SyncsTotal is the sync counter.
var SyncsTotal = syncsTotal

// DisableConntrack keeps p away from the host's conntrack table.
func DisableConntrack(p *Proxy) { p.conntrack = nil }
