package scheduler

import (
	"testing"
	"time"
)

// fakeClock is a settable clock for the queue.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) step(d time.Duration) { c.t = c.t.Add(d) }
func newTestQueue(c *fakeClock) *queue {
	return newQueue(c.now, time.Second, 10*time.Second, 5*time.Minute)
}
func counts(q *queue) [4]int { a, b, u, f := q.Len(); return [4]int{a, b, u, f} }

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	q := newTestQueue(c)
	q.Add("ns/low", 0)
	c.step(time.Millisecond)
	q.Add("ns/high", 100)
	c.step(time.Millisecond)
	q.Add("ns/low2", 0)
	for _, want := range []string{"ns/high", "ns/low", "ns/low2"} {
		if got, _ := q.Pop(); got != want {
			t.Fatalf("pop %s, want %s", got, want)
		}
	}
}

func TestQueueRetryQueuesBehindItsPriority(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	q := newTestQueue(c)
	q.Add("ns/first", 5)
	key, _ := q.Pop()
	c.step(time.Millisecond)
	q.Add("ns/second", 5)
	q.Add("ns/low", 1)
	c.step(time.Millisecond)
	q.Failed(key, false)
	c.step(time.Second)
	q.Flush()
	// first failed after second was queued: second goes first; priority
	// still beats age.
	for _, want := range []string{"ns/second", "ns/first", "ns/low"} {
		if got, _ := q.Pop(); got != want {
			t.Fatalf("pop %s, want %s", got, want)
		}
	}
	// A priority change reorders a waiting pod.
	q.Add("ns/a", 1)
	q.Add("ns/b", 1)
	q.Add("ns/b", 9)
	if got, _ := q.Pop(); got != "ns/b" {
		t.Fatalf("pop %s after raising b's priority", got)
	}
}

func TestQueueBackoffDoublesToMax(t *testing.T) {
	q := newTestQueue(&fakeClock{})
	var got []time.Duration
	for a := 1; a <= 6; a++ {
		got = append(got, q.backoffFor(a))
	}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff %v, want %v s", got, want)
		}
	}
}

func TestQueueUnschedulableWaitsForEvent(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	q := newTestQueue(c)
	q.Add("ns/p", 0)
	key, _ := q.Pop()
	q.Failed(key, true)
	if got := counts(q); got != [4]int{0, 0, 1, 0} {
		t.Fatalf("after failure %v, want parked", got)
	}
	c.step(time.Minute)
	q.Flush()
	if got := counts(q); got != [4]int{0, 0, 1, 0} {
		t.Fatalf("flush moved a parked pod: %v", got)
	}
	q.MoveAll() // backoff (1s) is over: straight to active
	if got := counts(q); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("after MoveAll %v, want active", got)
	}
	key, _ = q.Pop()
	q.Failed(key, true) // second failure: 2s backoff
	q.MoveAll()
	if got := counts(q); got != [4]int{0, 1, 0, 0} {
		t.Fatalf("MoveAll during backoff %v, want backoff", got)
	}
	c.step(2 * time.Second)
	q.Flush()
	if got := counts(q); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("after backoff %v, want active", got)
	}
	key, _ = q.Pop()
	q.Failed(key, true)
	c.step(5 * time.Minute)
	q.Flush()
	if got := counts(q); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("parked for 5m: %v, want active", got)
	}
}

func TestQueueEventDuringAttemptBacksOff(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	q := newTestQueue(c)
	q.Add("ns/p", 0)
	key, _ := q.Pop()
	q.MoveAll() // a node appeared while we were deciding
	q.Failed(key, true)
	if got := counts(q); got != [4]int{0, 1, 0, 0} {
		t.Fatalf("%v, want backoff, not parked", got)
	}
}

func TestQueueMoveWakesOnlyWhatItsPluginsRejected(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	q := newTestQueue(c)
	q.Add("ns/affinity", 0)
	q.Add("ns/cpu", 0)
	q.Add("ns/nothing", 0) // no node at all: no plugin rejected it
	for i := 0; i < 3; i++ {
		key, _ := q.Pop()
		switch key {
		case "ns/affinity":
			q.Failed(key, true, "NodeResourcesFit", "InterPodAffinity")
		case "ns/cpu":
			q.Failed(key, true, "NodeResourcesFit")
		default:
			q.Failed(key, true)
		}
	}
	c.step(time.Second) // backoffs over
	q.Move("InterPodAffinity", "PodTopologySpread")
	if got := counts(q); got != [4]int{1, 0, 2, 0} {
		t.Fatalf("after Move %v, want 1 active, 2 parked", got)
	}
	if key, _ := q.Pop(); key != "ns/affinity" {
		t.Fatalf("Move woke %s", key)
	}
	q.MoveAll()
	if got := counts(q); got != [4]int{2, 0, 0, 1} {
		t.Fatalf("after MoveAll %v, want the rest active", got)
	}
	// Deleting a parked pod leaves nothing behind for later events.
	q.Delete("ns/cpu")
	q.Delete("ns/nothing")
	q.Move("NodeResourcesFit")
	if len(q.parked) != 0 || len(q.items) != 1 {
		t.Fatalf("leftovers: parked %v, items %v", q.parked, q.items)
	}
}

func TestQueueMoveDuringAttemptBacksOffOnlyItsPods(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	q := newTestQueue(c)
	q.Add("ns/spread", 0)
	q.Add("ns/cpu", 0)
	spread, _ := q.Pop()
	cpu, _ := q.Pop()
	q.Move("InterPodAffinity", "PodTopologySpread") // a pod was bound meanwhile
	q.Failed(spread, true, "PodTopologySpread")
	q.Failed(cpu, true, "NodeResourcesFit")
	if got := counts(q); got != [4]int{0, 1, 1, 0} {
		t.Fatalf("%v, want the spread pod backing off and the cpu pod parked", got)
	}
}

func TestQueueInFlightUpdateAndDelete(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	q := newTestQueue(c)
	q.Add("ns/p", 0)
	key, _ := q.Pop()
	q.Add("ns/p", 0) // pod spec changed during the attempt
	q.Done(key)
	if got := counts(q); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("%v, want requeued", got)
	}
	key, _ = q.Pop()
	q.Done(key)
	if got := counts(q); got != [4]int{} {
		t.Fatalf("%v, want empty", got)
	}
	q.Add("ns/gone", 0)
	q.Delete("ns/gone")
	q.Add("ns/p2", 0)
	if key, _ := q.Pop(); key != "ns/p2" {
		t.Fatalf("pop %s", key)
	}
	q.Close()
	if _, ok := q.Pop(); ok {
		t.Fatal("pop after close")
	}
}

func TestConfigDefaultsAndValidate(t *testing.T) {
	var c Config
	c.setDefaults()
	if err := c.Validate(); err != nil || c.SchedulerName != DefaultSchedulerName || c.InitialBackoff != time.Second || c.MaxBackoff != 10*time.Second {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c.MaxBackoff = time.Millisecond
	if err := c.Validate(); err == nil {
		t.Fatal("max backoff below initial accepted")
	}
}
