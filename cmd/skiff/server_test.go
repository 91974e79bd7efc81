package main

import (
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// blockedOn counts the block profile's records whose stack passes through
// fn.
func blockedOn(t *testing.T, fn string) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("block").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	return strings.Count(b.String(), fn)
}

func blockBriefly() {
	ch := make(chan struct{})
	go func() { time.Sleep(5 * time.Millisecond); close(ch) }()
	<-ch
}

func TestContentionProfiling(t *testing.T) {
	defer setContentionProfiling(false)
	setContentionProfiling(false)
	blockBriefly()
	if n := blockedOn(t, "blockBriefly"); n != 0 {
		t.Fatalf("off: the block profile recorded %d waits", n)
	}
	setContentionProfiling(true)
	blockBriefly()
	if n := blockedOn(t, "blockBriefly"); n == 0 {
		t.Fatal("on: the block profile recorded no wait")
	}
	if f := newServerCommand().Flags().Lookup("contention-profiling"); f == nil || f.DefValue != "false" {
		t.Fatalf("--contention-profiling flag: %+v", f)
	}
}
