package cri

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ExitError is ExecSync's error when the command ran but exited non-zero.
// Stdout and stderr are returned alongside it as usual.
type ExitError struct {
	Code int32
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("command exited with code %d", e.Code)
}

// ExitStatus is the command's exit code (the method name os/exec and
// k8s.io/utils/exec use, so probes can treat both alike).
func (e *ExitError) ExitStatus() int { return int(e.Code) }

// IsNotFound reports whether err is the runtime saying an object (sandbox,
// container, image) does not exist.
func IsNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// IsUnimplemented reports whether err is the runtime saying it does not
// implement a method, as older runtimes answer for newer CRI calls.
func IsUnimplemented(err error) bool { return status.Code(err) == codes.Unimplemented }

// wrap names the method and its subject in err, keeping err's gRPC
// status. Connection failures get a hint, as a bare "Unavailable" from a
// socket that is not there sends people looking in the wrong place.
func (r *Remote) wrap(method, subject string, err error) error {
	if err == nil {
		return nil
	}
	prefix := "cri " + method
	if subject != "" {
		prefix += " " + subject
	}
	switch status.Code(err) {
	case codes.Unavailable:
		return fmt.Errorf("%s: runtime at %s unavailable: %w", prefix, r.endpoint, err)
	case codes.Unimplemented:
		return fmt.Errorf("%s: not implemented by the runtime: %w", prefix, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// errNilResponse guards against runtimes that answer with an empty
// message where a field is required.
func errNilResponse(what string) error {
	return errors.New("cri: runtime returned no " + what)
}
