package volume

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// allocatableTTL bounds how stale the Node's allocatable may be; it only
// changes when the node is reconfigured.
const allocatableTTL = time.Minute

type allocatable struct {
	at   time.Time
	list corev1.ResourceList
}

// nodeAllocatable is the Node object's status.allocatable (cached for a
// minute), with the machine's memory and CPU count filling what it lacks.
func (m *Manager) nodeAllocatable(ctx context.Context) corev1.ResourceList {
	m.allocMu.Lock()
	defer m.allocMu.Unlock()
	now := m.clock.Now()
	if m.allocMemo != nil && now.Sub(m.allocMemo.at) < allocatableTTL {
		return m.allocMemo.list
	}
	list := corev1.ResourceList{}
	if m.client != nil && m.nodeName != "" {
		// Any recent state will do ("0": the API server's cache).
		node, err := m.client.CoreV1().Nodes().Get(ctx, m.nodeName, metav1.GetOptions{ResourceVersion: "0"})
		if err != nil {
			m.log.Debug("reading node allocatable; using machine totals", "node", m.nodeName, "err", err)
		} else {
			for k, v := range node.Status.Allocatable {
				list[k] = v
			}
		}
	}
	if _, ok := list[corev1.ResourceMemory]; !ok {
		if total := machineMemory(); total > 0 {
			list[corev1.ResourceMemory] = *resource.NewQuantity(total, resource.BinarySI)
		}
	}
	if _, ok := list[corev1.ResourceCPU]; !ok {
		list[corev1.ResourceCPU] = *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI)
	}
	m.allocMemo = &allocatable{at: now, list: list}
	return list
}

// machineMemory is MemTotal from /proc/meminfo in bytes, or 0.
func machineMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}
