package nodelifecycle

import (
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/tools/record"
)

// Defaults for Options (upstream kube-controller-manager's).
const (
	DefaultNodeMonitorPeriod         = 5 * time.Second
	DefaultNodeMonitorGracePeriod    = 40 * time.Second
	DefaultNodeStartupGracePeriod    = 60 * time.Second
	DefaultNodeEvictionRate          = 0.1
	DefaultSecondaryNodeEvictionRate = 0.01
	DefaultLargeClusterSizeThreshold = 50
	DefaultUnhealthyZoneThreshold    = 0.55
	DefaultEvictionWorkers           = 8
)

// Options are the controller's tunables; the zero value is the default.
type Options struct {
	// NodeMonitorPeriod is how often node health is checked; default 5s.
	NodeMonitorPeriod time.Duration
	// NodeMonitorGracePeriod is how long a node may go without a heartbeat
	// before it is marked Unknown; default 40s.
	NodeMonitorGracePeriod time.Duration
	// NodeStartupGracePeriod replaces NodeMonitorGracePeriod for a node
	// that has never posted a Ready condition; default 60s.
	NodeStartupGracePeriod time.Duration
	// NodeEvictionRate is how many nodes per second, per zone, get a
	// NoExecute taint (which evicts their pods) while the zone is healthy;
	// default 0.1. Negative: none ever do.
	NodeEvictionRate float64
	// SecondaryNodeEvictionRate replaces NodeEvictionRate in a zone that is
	// mostly unhealthy and larger than LargeClusterSizeThreshold (smaller
	// such zones get no new NoExecute taints); default 0.01, negative 0.
	SecondaryNodeEvictionRate float64
	// LargeClusterSizeThreshold: see SecondaryNodeEvictionRate; default 50.
	LargeClusterSizeThreshold int
	// UnhealthyZoneThreshold is the fraction of not-ready nodes (at least
	// three) from which a zone counts as mostly unhealthy; default 0.55.
	UnhealthyZoneThreshold float64
	// EvictionWorkers run taint-based evictions; default 8.
	EvictionWorkers int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Recorder for events; default one per half writing through the
	// client as Name and TaintEvictionName.
	Recorder record.EventRecorder
}

// withDefaults returns o with zero values replaced by defaults, or an
// error naming the first invalid field.
func (o Options) withDefaults() (Options, error) {
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"NodeMonitorPeriod", &o.NodeMonitorPeriod, DefaultNodeMonitorPeriod},
		{"NodeMonitorGracePeriod", &o.NodeMonitorGracePeriod, DefaultNodeMonitorGracePeriod},
		{"NodeStartupGracePeriod", &o.NodeStartupGracePeriod, DefaultNodeStartupGracePeriod},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return o, fmt.Errorf("%s must not be negative, got %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.NodeEvictionRate == 0 {
		o.NodeEvictionRate = DefaultNodeEvictionRate
	}
	if o.SecondaryNodeEvictionRate == 0 {
		o.SecondaryNodeEvictionRate = DefaultSecondaryNodeEvictionRate
	}
	o.NodeEvictionRate = max(o.NodeEvictionRate, 0)
	o.SecondaryNodeEvictionRate = max(o.SecondaryNodeEvictionRate, 0)
	if o.LargeClusterSizeThreshold < 0 {
		return o, fmt.Errorf("LargeClusterSizeThreshold must not be negative, got %d", o.LargeClusterSizeThreshold)
	}
	if o.LargeClusterSizeThreshold == 0 {
		o.LargeClusterSizeThreshold = DefaultLargeClusterSizeThreshold
	}
	if o.UnhealthyZoneThreshold < 0 || o.UnhealthyZoneThreshold > 1 {
		return o, fmt.Errorf("UnhealthyZoneThreshold must be in (0, 1], got %v", o.UnhealthyZoneThreshold)
	}
	if o.UnhealthyZoneThreshold == 0 {
		o.UnhealthyZoneThreshold = DefaultUnhealthyZoneThreshold
	}
	if o.EvictionWorkers < 0 {
		return o, fmt.Errorf("EvictionWorkers must not be negative, got %d", o.EvictionWorkers)
	}
	if o.EvictionWorkers == 0 {
		o.EvictionWorkers = DefaultEvictionWorkers
	}
	return o, nil
}
