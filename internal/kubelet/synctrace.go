package kubelet

import (
	"context"
	"log/slog"
	"time"
)

// syncTrace times the steps of one pod sync, for a debug log line that
// shows where a pod's startup goes (informer → worker → volumes →
// sandbox → image → create → start → status). It uses the wall clock,
// not the kubelet's: it measures the machine. It exists only while debug
// logging is on.
type syncTrace struct {
	start, last time.Time
	attrs       []any
}

type syncTraceKey struct{}

// syncTraceLevel is the level of the timing lines.
const syncTraceLevel = slog.LevelDebug

// startTrace returns ctx carrying a new trace when debug logging is on.
func (k *Kubelet) startTrace(ctx context.Context) (context.Context, *syncTrace) {
	if !k.log.Enabled(ctx, syncTraceLevel) {
		return ctx, nil
	}
	now := time.Now()
	tr := &syncTrace{start: now, last: now}
	return context.WithValue(ctx, syncTraceKey{}, tr), tr
}

// traceStep records the time since the previous step under name.
func traceStep(ctx context.Context, name string) {
	tr, _ := ctx.Value(syncTraceKey{}).(*syncTrace)
	if tr == nil {
		return
	}
	now := time.Now()
	tr.attrs = append(tr.attrs, name, now.Sub(tr.last).Round(10*time.Microsecond))
	tr.last = now
}

// logTrace writes the trace, if any, with the time since the kubelet
// first saw the pod.
func (k *Kubelet) logTrace(tr *syncTrace, st *podState, podName string) {
	if tr == nil {
		return
	}
	attrs := append([]any{"pod", podName, "total", time.Since(tr.start).Round(10 * time.Microsecond)}, tr.attrs...)
	k.mu.Lock()
	observed := st.observedAt
	k.mu.Unlock()
	if !observed.IsZero() {
		attrs = append(attrs, "queued", tr.start.Sub(observed).Round(10*time.Microsecond),
			"sinceObserved", time.Since(observed).Round(10*time.Microsecond))
	}
	k.log.Log(context.Background(), syncTraceLevel, "pod sync timing", attrs...)
}
