package containerd

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// capSysResource is CAP_SYS_RESOURCE's bit in the capability sets.
const capSysResource = 24

// HasCapSysResource reports whether this process may lower oom_score_adj
// below its current value and raise hard rlimits. Without it, containerd
// must not give sandboxes their usual -998 OOM score: runc's write fails
// and the sandbox never starts.
func HasCapSysResource() (bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false, fmt.Errorf("containerd: reading capabilities: %w", err)
	}
	defer f.Close()
	return hasCap(bufio.NewScanner(f), capSysResource)
}

// hasCap reads a /proc/<pid>/status listing and reports whether bit is in
// the effective set (CapEff, a hex mask).
func hasCap(s *bufio.Scanner, bit uint) (bool, error) {
	for s.Scan() {
		hex, ok := strings.CutPrefix(s.Text(), "CapEff:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return false, fmt.Errorf("containerd: parsing CapEff %q: %w", hex, err)
		}
		return mask&(1<<bit) != 0, nil
	}
	if err := s.Err(); err != nil {
		return false, fmt.Errorf("containerd: reading capabilities: %w", err)
	}
	return false, fmt.Errorf("containerd: no CapEff line in /proc/self/status")
}
