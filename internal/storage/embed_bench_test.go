package storage_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiff-sh/skiff/internal/metrics"
	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/etcdtest"
)

// BenchmarkEmbeddedClient compares the two ways the API server can reach
// an embedded member: the network client over loopback gRPC, and the
// local client that calls the member's handlers. Each op is a guarded
// update of a 2 KB value (the shape of a Lease or status update) from many
// goroutines at once; it reports process CPU per op as well as wall time.
func BenchmarkEmbeddedClient(b *testing.B) {
	ctx := context.Background()
	m := etcdtest.StartMember(b)
	network, err := storage.NewClient(ctx, storage.ClientConfig{Endpoints: m.Endpoints(), Logger: etcdtest.Logger()})
	if err != nil {
		b.Fatal(err)
	}
	defer network.Close()
	local := m.LocalClient()
	defer local.Close()
	value := strings.Repeat("x", 2048)
	for _, c := range []struct {
		name   string
		client *clientv3.Client
	}{{"network", network}, {"local", local}} {
		for _, workers := range []int{16, 256} {
			b.Run(fmt.Sprintf("%s/workers=%d", c.name, workers), func(b *testing.B) {
				keys := make([]string, workers)
				revs := make([]int64, workers)
				for i := range keys {
					keys[i] = fmt.Sprintf("/bench/%s/%d/%d", c.name, workers, i)
					resp, err := c.client.Put(ctx, keys[i], value)
					if err != nil {
						b.Fatal(err)
					}
					revs[i] = resp.Header.Revision
				}
				var next atomic.Int64
				cpu0 := metrics.ProcessCPU()
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							resp, err := c.client.Txn(ctx).
								If(clientv3.Compare(clientv3.ModRevision(keys[w]), "=", revs[w])).
								Then(clientv3.OpPut(keys[w], value)).Commit()
							if err != nil || !resp.Succeeded {
								b.Errorf("update: %v %v", err, resp)
								return
							}
							revs[w] = resp.Header.Revision
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(metrics.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
