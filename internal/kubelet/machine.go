package kubelet

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// machineInfo is what the Node reports about the host.
type machineInfo struct {
	capacity    corev1.ResourceList
	allocatable corev1.ResourceList
	kernel      string
	osImage     string
	machineID   string
	systemUUID  string
	bootID      string
	// canLowerOOMScore: the kubelet has CAP_SYS_RESOURCE, so containers
	// may get negative oom_score_adj (Guaranteed pods' -997).
	canLowerOOMScore bool
}

// Eviction thresholds subtracted from capacity for allocatable, as
// upstream's defaults (memory.available<100Mi, nodefs.available<10%).
var evictionMemory = resource.MustParse("100Mi")

const evictionNodeFSPercent = 10

// detectMachine reads the host; overrides replace what it finds.
func detectMachine(rootDir string, overrides corev1.ResourceList, log *slog.Logger) *machineInfo {
	m := &machineInfo{capacity: corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(DefaultMaxPods, resource.DecimalSI),
		"hugepages-1Gi":     resource.MustParse("0"),
		"hugepages-2Mi":     resource.MustParse("0"),
	}}
	if mem, err := memTotal(); err == nil {
		m.capacity[corev1.ResourceMemory] = *resource.NewQuantity(mem, resource.BinarySI)
	} else {
		log.Warn("cannot read memory capacity", "err", err)
	}
	if size, err := fsSize(rootDir); err == nil {
		m.capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(size, resource.BinarySI)
	} else {
		log.Warn("cannot read the root dir's filesystem size", "dir", rootDir, "err", err)
	}
	for name, q := range overrides {
		m.capacity[name] = q.DeepCopy()
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		m.kernel = unix.ByteSliceToString(uts.Release[:])
	}
	m.osImage = osImage("/etc/os-release")
	m.machineID = readTrimmed("/etc/machine-id")
	m.systemUUID = readTrimmed("/sys/class/dmi/id/product_uuid")
	m.bootID = readTrimmed("/proc/sys/kernel/random/boot_id")
	m.canLowerOOMScore = hasCapSysResource()
	m.allocatable = allocatableOf(m.capacity)
	return m
}

// hollowMachine reports fixed resources (overridable) and no host facts.
func hollowMachine(overrides corev1.ResourceList) *machineInfo {
	m := &machineInfo{
		capacity: corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("4"),
			corev1.ResourceMemory:           resource.MustParse("16Gi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
			corev1.ResourcePods:             *resource.NewQuantity(DefaultMaxPods, resource.DecimalSI),
		},
		kernel: "hollow",
		// Nothing runs, so nothing needs clamping.
		canLowerOOMScore: true,
		osImage:          "skiff hollow node",
	}
	for name, q := range overrides {
		m.capacity[name] = q.DeepCopy()
	}
	m.allocatable = allocatableOf(m.capacity)
	return m
}

// allocatableOf subtracts the eviction reserves from capacity.
func allocatableOf(capacity corev1.ResourceList) corev1.ResourceList {
	out := capacity.DeepCopy()
	if mem, ok := out[corev1.ResourceMemory]; ok {
		mem.Sub(evictionMemory)
		if mem.Sign() < 0 {
			mem = resource.MustParse("0")
		}
		out[corev1.ResourceMemory] = mem
	}
	if fs, ok := out[corev1.ResourceEphemeralStorage]; ok {
		reserve := fs.Value() * evictionNodeFSPercent / 100
		out[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(fs.Value()-reserve, resource.BinarySI)
	}
	return out
}

// memTotal reads MemTotal from /proc/meminfo, in bytes.
func memTotal() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, os.ErrNotExist
}

// fsSize is the size of the filesystem holding dir (or its nearest
// existing parent).
func fsSize(dir string) (int64, error) {
	for {
		var st unix.Statfs_t
		err := unix.Statfs(dir, &st)
		if err == nil {
			return int64(st.Blocks) * st.Bsize, nil
		}
		parent := filepath.Dir(dir)
		if !os.IsNotExist(err) || parent == dir {
			return 0, err
		}
		dir = parent
	}
}

// osImage is PRETTY_NAME from os-release, as upstream reports it.
func osImage(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "Linux"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return "Linux"
}

func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// hasCapSysResource reads CapEff of this process; CAP_SYS_RESOURCE is
// bit 24.
func hasCapSysResource() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	return false
}

// defaultNodeIP is the first global IPv4 address of an up interface.
func defaultNodeIP(hollow bool) string {
	if hollow {
		return "127.0.0.1"
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
