package images

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is a registry error in the OCI distribution vocabulary: the HTTP
// status and error code a client sees, and a message for people. The store
// returns it; ServeHTTP writes it; Go callers (Seed, Import) show Message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func regErr(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

func errNameUnknown(repo string) *Error {
	return regErr(http.StatusNotFound, "NAME_UNKNOWN", "repository %q is not known to this registry", repo)
}

func errManifestUnknown(repo, ref string) *Error {
	return regErr(http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest %s:%s is not known to this registry", repo, ref)
}

func errNameInvalid(repo string) *Error {
	return regErr(http.StatusBadRequest, "NAME_INVALID", "%q is not a valid repository name", repo)
}

func errTagInvalid(tag string) *Error {
	return regErr(http.StatusBadRequest, "TAG_INVALID", "%q is not a valid tag or digest", tag)
}

func errManifestInvalid(format string, a ...any) *Error {
	return regErr(http.StatusBadRequest, "MANIFEST_INVALID", format, a...)
}

func errInternal(err error) *Error {
	return regErr(http.StatusInternalServerError, "UNKNOWN", "%v", err)
}

// write sends e as the distribution spec's JSON error body.
func (e *Error) write(w http.ResponseWriter, head bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	if head {
		return
	}
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.NewEncoder(w).Encode(struct {
		Errors []detail `json:"errors"`
	}{[]detail{{e.Code, e.Message}}})
}

func writeJSON(w http.ResponseWriter, req *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		errInternal(err).write(w, req.Method == http.MethodHead)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
