package kubelet

import (
	"io"
	"os"
	"testing"

	"k8s.io/klog/v2"
)

// TestMain keeps client-go's klog output (event writes failing once a
// test's API server is gone) out of the test log unless SKIFF_TEST_LOG
// is set.
func TestMain(m *testing.M) {
	if os.Getenv("SKIFF_TEST_LOG") == "" {
		klog.LogToStderr(false)
		klog.SetOutput(io.Discard)
	}
	os.Exit(m.Run())
}
