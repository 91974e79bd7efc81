package main

import (
	"testing"
)

// Two scrapes of etcd's WAL fsync histogram: between them, 10 fsyncs,
// 3 of them 128 ms or slower, the slowest under 1.024 s.
const walBefore = `etcd_disk_wal_fsync_duration_seconds_bucket{le="0.064"} 100
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.128"} 100
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.256"} 101
etcd_disk_wal_fsync_duration_seconds_bucket{le="1.024"} 101
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 101
`

const walAfter = `etcd_disk_wal_fsync_duration_seconds_bucket{le="0.064"} 107
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.128"} 107
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.256"} 109
etcd_disk_wal_fsync_duration_seconds_bucket{le="1.024"} 111
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 111
`

func TestDiskSummary(t *testing.T) {
	key := histKey{"wal", "fsync"}
	parse := func(body string) map[histKey]hist {
		return parseHistograms([]byte(body), "etcd_disk_wal_fsync_duration_seconds", func(map[string]string) histKey { return key })
	}
	before, after := parse(walBefore), parse(walAfter)
	if n := slowerThan(before[key], after[key], 0.128); n != 3 {
		t.Errorf("fsyncs over 128 ms: %d, want 3", n)
	}
	if m := maxBound(before[key], after[key]); m != "1.024s" {
		t.Errorf("max bound %q, want 1.024s", m)
	}
	if m := maxBound(after[key], after[key]); m != "-" {
		t.Errorf("max bound of an empty window %q, want -", m)
	}
	s := diskSummary(before, after)
	if s["wal_fsync_over_128ms"] != 3 || s["wal_fsync"].(histSummary).Count != 10 {
		t.Errorf("summary %+v", s)
	}
	if _, ok := s["backend_commit"]; ok {
		t.Errorf("summary %+v has a backend commit it was not given", s)
	}
	disk := func(h hist) map[histKey]hist { return map[histKey]hist{key: h} }
	if got := slowDisk(disk(before[key]), disk(after[key]), key); got != "3 (max ≤ 1.024s)" {
		t.Errorf("slow WAL fsyncs %q, want 3 (max ≤ 1.024s)", got)
	}
	if got := slowDisk(disk(before[key]), disk(after[key]), histKey{"backend", "commit"}); got != "0 (max ≤ -)" {
		t.Errorf("slow backend commits, none scraped: %q, want 0 (max ≤ -)", got)
	}
}

// The API's failed answers between two scrapes, by code, verb and
// resource: 429s and 5xx count, success and the client's own errors
// do not.
func TestFailedAnswers(t *testing.T) {
	const before = `apiserver_request_total{code="200",group="coordination.k8s.io",resource="leases",subresource="",verb="update",version="v1"} 500
apiserver_request_total{code="504",group="",resource="pods",subresource="",verb="list",version="v1"} 1
`
	const after = `apiserver_request_total{code="200",group="coordination.k8s.io",resource="leases",subresource="",verb="update",version="v1"} 900
apiserver_request_total{code="409",group="coordination.k8s.io",resource="leases",subresource="",verb="update",version="v1"} 4
apiserver_request_total{code="429",group="",resource="pods",subresource="status",verb="patch",version="v1"} 3
apiserver_request_total{code="504",group="",resource="pods",subresource="",verb="list",version="v1"} 3
`
	got := increases(parseCounters([]byte(before), "apiserver_request_total", failedKey), parseCounters([]byte(after), "apiserver_request_total", failedKey))
	want := map[string]int{"429 patch pods/status": 3, "504 list pods": 2}
	if len(got) != len(want) {
		t.Fatalf("failed answers %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("failed answers %v, want %v", got, want)
		}
	}
}
