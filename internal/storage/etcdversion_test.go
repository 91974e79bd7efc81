package storage

import "testing"

func TestProgressFixedIn(t *testing.T) {
	for v, want := range map[string]bool{
		"3.4.23": false, "3.4.30": false, "3.4.31": true, "3.5.12": false, "3.5.13": true,
		"3.6.0": true, "3.7.3": true, "v3.5.21": true, "3.3.27": false, "4.0.0": true, "": false, "garbage": false,
	} {
		if got := progressFixedIn(v); got != want {
			t.Errorf("progressFixedIn(%q) = %v, want %v", v, got, want)
		}
	}
}
