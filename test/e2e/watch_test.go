package e2e

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// watchRows splits streamed `kubectl get -w` output into rows of fields.
// Each watch event is flushed on its own, so rows need not line up with
// the header; configmap cells hold no spaces, so fields are enough.
func watchRows(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows = append(rows, f)
		}
	}
	return rows
}

// rowsOf returns the rows (after the header) whose column col is name.
func rowsOf(rows [][]string, col int, name string) [][]string {
	var out [][]string
	for _, r := range rows[min(1, len(rows)):] {
		if len(r) > col && r[col] == name {
			out = append(out, r)
		}
	}
	return out
}

// TestWatch: `kubectl get -w` lists, then streams server-side Table rows as
// objects are created, modified and deleted.
func TestWatch(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "watch")
	mustKubectl(t, "create", "configmap", "w0", "--from-literal=a=b", "-n", ns)

	plain := startKubectl(t, 40*time.Second, "get", "cm", "-w", "-n", ns)
	events := startKubectl(t, 40*time.Second, "get", "cm", "-w", "--output-watch-events", "-n", ns)
	// The initial list: header and the existing object.
	for _, b := range []*background{plain, events} {
		if !b.waitOutput(15*time.Second, func(out string) bool { return strings.Contains(out, "w0") }) {
			t.Fatalf("watch never listed w0; stdout=%q stderr=%q", b.stdout(), b.stderr())
		}
	}

	mustKubectl(t, "create", "configmap", "w1", "-n", ns)
	mustKubectl(t, "patch", "cm", "w1", "-n", ns, "--type=merge", "-p", `{"data":{"k":"v"}}`)
	mustKubectl(t, "delete", "cm", "w1", "-n", ns)

	ok := events.waitOutput(15*time.Second, func(out string) bool {
		return len(rowsOf(watchRows(out), 1, "w1")) >= 3
	})
	rows := watchRows(events.stdout())
	if !ok {
		t.Fatalf("--output-watch-events: want 3 events for w1; stdout=%q stderr=%q", events.stdout(), events.stderr())
	}
	if len(rows) == 0 || !reflect.DeepEqual(rows[0], []string{"EVENT", "NAME", "DATA", "AGE"}) {
		t.Errorf("--output-watch-events header = %q, want EVENT NAME DATA AGE", rows[0])
	}
	if w0 := rowsOf(rows, 1, "w0"); len(w0) != 1 || w0[0][0] != "ADDED" || w0[0][2] != "1" {
		t.Errorf("initial rows for w0 = %q, want one ADDED with DATA 1", w0)
	}
	var got [][]string
	for _, r := range rowsOf(rows, 1, "w1") {
		got = append(got, r[:3])
	}
	want := [][]string{{"ADDED", "w1", "0"}, {"MODIFIED", "w1", "1"}, {"DELETED", "w1", "1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("watch events for w1 = %q, want %q", got, want)
	}

	ok = plain.waitOutput(15*time.Second, func(out string) bool {
		return len(rowsOf(watchRows(out), 0, "w1")) >= 3
	})
	rows = watchRows(plain.stdout())
	if !ok {
		t.Fatalf("get -w: want 3 rows for w1; stdout=%q stderr=%q", plain.stdout(), plain.stderr())
	}
	if !reflect.DeepEqual(rows[0], []string{"NAME", "DATA", "AGE"}) {
		t.Errorf("get -w header = %q, want NAME DATA AGE", rows[0])
	}
	var data []string
	for _, r := range rowsOf(rows, 0, "w1") {
		data = append(data, r[1])
	}
	if !reflect.DeepEqual(data, []string{"0", "1", "1"}) {
		t.Errorf("get -w DATA for w1 = %q, want 0 1 1", data)
	}
	// The header is printed once.
	if n := strings.Count(plain.stdout(), "NAME"); n != 1 {
		t.Errorf("get -w printed the header %d times:\n%s", n, plain.stdout())
	}
	if exited, err := plain.wait(0); exited {
		t.Errorf("get -w exited early: %v; stderr=%q", err, plain.stderr())
	}
}
