package integration

import (
	"context"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/test/framework"
)

// etcdClient connects to the server's etcd (for compaction in tests).
func etcdClient(t *testing.T, s *framework.Server) *clientv3.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(), storage.ClientConfig{Endpoints: s.EtcdServers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
