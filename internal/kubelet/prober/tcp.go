package prober

import (
	"context"
	"net"
	"time"
)

// probeTCP succeeds when a connection opens; it is closed at once.
func probeTCP(ctx context.Context, host string, port int, timeout time.Duration) (result, string, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", hostPort(host, port))
	if err != nil {
		return failure, err.Error(), nil
	}
	_ = conn.Close()
	return success, "", nil
}
