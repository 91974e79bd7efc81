package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersionToStdout: `skiff version` answers on stdout, so it can be
// piped (`skiff version | cut ...`) as kubectl version can.
func TestVersionToStdout(t *testing.T) {
	cmd := newVersionCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "skiff "+version+" (Kubernetes API v") {
		t.Errorf("stdout %q, want the version", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing", stderr.String())
	}
}
