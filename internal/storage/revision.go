package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Resource versions are etcd revisions written in decimal. "" and "0" have
// their Kubernetes meanings (latest, and any); they parse as 0 here and the
// callers tell them apart.

// parseResourceVersion parses rv; "" is 0.
func parseResourceVersion(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q", ErrInvalidResourceVersion, rv)
	}
	return n, nil
}

// revisionWait bounds how long a read that names a revision etcd has not
// reached yet waits for it, as upstream's watch cache does, before it fails
// with ErrTooLargeResourceVersion.
const revisionWait = 3 * time.Second

// waitForRevision returns etcd's current revision once it is at least want.
// It polls with consistent reads and gives up after revisionWait.
func (s *store) waitForRevision(ctx context.Context, want int64) (int64, error) {
	deadline := time.Now().Add(s.revisionWait)
	delay := 20 * time.Millisecond
	for {
		cur, err := s.CurrentRevision(ctx)
		if err != nil {
			return 0, err
		}
		if cur >= want {
			return cur, nil
		}
		if time.Now().Add(delay).After(deadline) {
			return 0, tooLargeError(want, cur)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return 0, ctx.Err()
		case <-timer.C:
		}
		delay = min(2*delay, 400*time.Millisecond)
	}
}

// TooLargeResourceVersionStatus is how ErrTooLargeResourceVersion reaches
// a client, as upstream's: a 504 to retry in a second, with the cause
// client-go's reflector looks for (ResourceVersionTooLarge).
func TooLargeResourceVersionStatus(msg string) *apierrors.StatusError {
	e := apierrors.NewTimeoutError(msg, 1)
	e.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return e
}

func tooLargeError(want, cur int64) error {
	return fmt.Errorf("%w: requested %d, current revision %d", ErrTooLargeResourceVersion, want, cur)
}

// translateError maps etcd's revision errors onto storage's sentinels; rev
// is the revision the request named. Other errors pass through.
func translateError(err error, rev int64) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%w: revision %d has been compacted", ErrExpired, rev)
	case errors.Is(err, rpctypes.ErrFutureRev):
		return fmt.Errorf("%w: revision %d is not yet written", ErrTooLargeResourceVersion, rev)
	}
	return fmt.Errorf("storage: etcd: %w", err)
}

// CurrentRevision returns etcd's current revision from a consistent
// (linearizable) count-only read, which costs etcd no value copies.
func (s *store) CurrentRevision(ctx context.Context) (int64, error) {
	return CurrentRevision(ctx, s.client)
}
