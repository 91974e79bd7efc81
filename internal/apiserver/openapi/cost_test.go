package openapi

import (
	"testing"
	"time"
)

// TestCost reports what the documents of every core, apps, coordination,
// discovery and events resource cost: Build at server start, generation on
// the first Index, and their size. It only logs (run with -v): time is no
// gate on shared machines; BenchmarkBuild and BenchmarkGenerate measure.
func TestCost(t *testing.T) {
	rs := fullResources()
	start := time.Now()
	d := build(t, rs)
	built := time.Since(start)
	start = time.Now()
	d.Index()
	generated := time.Since(start)
	start = time.Now()
	d.Index()
	cached := time.Since(start)
	total := 0
	for _, path := range d.paths {
		doc, _, _ := d.Get(path)
		total += len(doc)
		t.Logf("%-28s %8d bytes", path, len(doc))
	}
	t.Logf("%d resources: Build %v, first Index (generates all) %v, cached Index %v, %d bytes in %d documents",
		len(rs), built, generated, cached, total, len(d.paths))
}

func BenchmarkBuild(b *testing.B) {
	rs := fullResources()
	for b.Loop() {
		if _, err := Build(rs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerate is Build plus generating every document.
func BenchmarkGenerate(b *testing.B) {
	rs := fullResources()
	for b.Loop() {
		d, err := Build(rs)
		if err != nil {
			b.Fatal(err)
		}
		d.Index()
	}
}

// BenchmarkGenerateOne is Build plus the apps/v1 document alone, what a
// first request for one document costs.
func BenchmarkGenerateOne(b *testing.B) {
	rs := fullResources()
	for b.Loop() {
		d, err := Build(rs)
		if err != nil {
			b.Fatal(err)
		}
		d.Get("apis/apps/v1")
	}
}
