package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Assertions on what kubectl printed. Each reports through t.Errorf and
// lets the test go on, so one run shows every difference.

// wantContains fails t unless s contains every one of subs.
func wantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s: missing %q in:\n%s", what, sub, s)
		}
	}
}

// wantFail fails t unless err is set; it returns stderr for assertions.
func wantFail(t *testing.T, what string, stdout, stderr string, err error) string {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want failure; stdout:\n%s", what, stdout)
	}
	return stderr
}

// wantLines fails t unless out has exactly the lines want, in any order.
func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	got := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		got[strings.TrimSpace(l)] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("%s: missing line %q in:\n%s", what, w, out)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %d lines, want %d:\n%s", what, len(got), len(want), out)
	}
}

// wantMatches fails t unless out matches every regular expression.
func wantMatches(t *testing.T, what, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("%s: nothing matches %s in:\n%s", what, re, out)
		}
	}
}

// wantGone fails t unless `kubectl get` of the object is NotFound.
func wantGone(t *testing.T, ns, kind, name string) {
	t.Helper()
	stdout, stderr, err := kubectl(t, "get", kind, name, "-n", ns)
	if err == nil || !strings.Contains(stderr, "(NotFound)") {
		t.Errorf("get %s %s: want NotFound, got err=%v stdout=%q stderr=%q", kind, name, err, stdout, stderr)
	}
}

// waitFor polls cond every 200ms until it holds, failing t after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v", timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
