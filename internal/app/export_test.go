package app

import (
	"context"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
)

// SharedInformers exposes the components' shared informer cache to the
// package's external tests.
type SharedInformers struct{ s *sharedInformers }

func NewSharedInformers(ctx context.Context, client kubernetes.Interface) SharedInformers {
	return SharedInformers{newSharedInformers(ctx, client)}
}

func (s SharedInformers) ForTerm() informers.SharedInformerFactory { return s.s.forTerm() }
func (s SharedInformers) Shutdown()                                { s.s.shutdown() }
