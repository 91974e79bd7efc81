package integration

import (
	"bytes"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every kind of bad input gets the right Status, never a 500 or a crash.
func TestBadInput(t *testing.T) {
	s, _ := start(t)
	raw := newRaw(t, s)
	const pods = "/api/v1/namespaces/default/pods"
	validPod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ok"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	cases := []struct {
		name, method, path, ctype, body string
		code                            int
		reason                          metav1.StatusReason
		contains                        string
	}{
		{"malformed JSON", "POST", pods, "application/json", `{"apiVersion":"v1",`, 400, metav1.StatusReasonBadRequest, ""},
		{"malformed YAML", "POST", pods, "application/yaml", "apiVersion: v1\nkind: Pod\n  metadata: [", 400, metav1.StatusReasonBadRequest, ""},
		{"malformed protobuf", "POST", pods, "application/vnd.kubernetes.protobuf", "k8s\x00\x0a\xff\xff\xff", 400, metav1.StatusReasonBadRequest, ""},
		{"unknown media type", "POST", pods, "text/plain", validPod, 415, metav1.StatusReasonUnsupportedMediaType, ""},
		{"empty body", "POST", pods, "application/json", "", 400, metav1.StatusReasonBadRequest, ""},
		{"strict unknown field", "POST", pods + "?fieldValidation=Strict", "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"s"},"spec":{"containerz":[],"containers":[{"name":"c","image":"b"}]}}`,
			400, metav1.StatusReasonBadRequest, `unknown field "spec.containerz"`},
		{"bad fieldValidation", "POST", pods + "?fieldValidation=Loud", "application/json", validPod, 400, metav1.StatusReasonBadRequest, ""},
		{"invalid name", "POST", pods, "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Not_Valid"},"spec":{"containers":[{"name":"c","image":"b"}]}}`,
			422, metav1.StatusReasonInvalid, "metadata.name"},
		{"missing containers", "POST", pods, "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nc"},"spec":{}}`,
			422, metav1.StatusReasonInvalid, "spec.containers"},
		{"wrong kind for URL", "POST", pods, "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`,
			400, metav1.StatusReasonBadRequest, "kind"},
		{"wrong group for URL", "POST", pods, "application/json", `{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"x"}}`,
			400, metav1.StatusReasonBadRequest, "API version"},
		{"namespace mismatch", "POST", pods, "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","namespace":"other"},"spec":{"containers":[{"name":"c","image":"b"}]}}`,
			400, metav1.StatusReasonBadRequest, "namespace"},
		{"missing namespace", "POST", "/api/v1/namespaces/nowhere/pods", "application/json", validPod, 404, metav1.StatusReasonNotFound, `namespaces "nowhere" not found`},
		{"unknown resource", "GET", "/api/v1/namespaces/default/widgets", "", "", 404, metav1.StatusReasonNotFound, ""},
		{"unknown group", "GET", "/apis/nope.example.com/v1/things", "", "", 404, metav1.StatusReasonNotFound, ""},
		{"get missing", "GET", pods + "/ghost", "", "", 404, metav1.StatusReasonNotFound, `pods "ghost" not found`},
		{"bad timeout", "GET", pods + "/ok?timeout=soon", "", "", 400, metav1.StatusReasonBadRequest, "invalid timeout specified in the request URL"},
		{"past its timeout", "GET", pods + "/ok?timeout=1ns", "", "", 504, metav1.StatusReasonTimeout, "request did not complete within"},
		{"bad label selector", "GET", pods + "?labelSelector=a%20in%20(", "", "", 400, metav1.StatusReasonBadRequest, ""},
		{"bad limit", "GET", pods + "?limit=-1", "", "", 400, metav1.StatusReasonBadRequest, ""},
		{"bad continue", "GET", pods + "?limit=1&continue=garbage", "", "", 400, metav1.StatusReasonBadRequest, ""},
		{"bad dryRun", "POST", pods + "?dryRun=Some", "application/json", validPod, 400, metav1.StatusReasonBadRequest, ""},
		{"bad patch type", "PATCH", pods + "/ok", "application/xml", "{}", 415, metav1.StatusReasonUnsupportedMediaType, ""},
		{"malformed merge patch", "PATCH", pods + "/ok", "application/merge-patch+json", "{", 400, metav1.StatusReasonBadRequest, ""},
		{"bad propagation", "DELETE", pods + "/ok", "application/json", `{"propagationPolicy":"Sideways"}`, 400, metav1.StatusReasonBadRequest, ""},
		{"name mismatch on update", "PUT", pods + "/ok", "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"other"},"spec":{"containers":[{"name":"c","image":"b"}]}}`,
			400, metav1.StatusReasonBadRequest, "does not match"},
	}
	// The object later cases patch, update and delete.
	if code, body, _ := raw.do("POST", pods, "application/json", []byte(validPod)); code != 201 {
		t.Fatalf("create ok: %d %s", code, body)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := raw.do(tc.method, tc.path, tc.ctype, []byte(tc.body))
			st := expectStatus(t, code, body, tc.code, tc.reason)
			if tc.contains != "" && !strings.Contains(st.Message+causes(st), tc.contains) {
				t.Errorf("message %q (causes %s) lacks %q", st.Message, causes(st), tc.contains)
			}
		})
	}
	t.Run("422 carries field causes", func(t *testing.T) {
		code, body, _ := raw.do("POST", pods, "application/json", []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nc"},"spec":{}}`))
		st := expectStatus(t, code, body, 422, metav1.StatusReasonInvalid)
		if st.Details == nil || len(st.Details.Causes) == 0 || st.Details.Causes[0].Field == "" {
			t.Fatalf("no causes: %+v", st.Details)
		}
	})
	t.Run("oversize body is 413", func(t *testing.T) {
		big := bytes.Repeat([]byte("a"), 4<<20)
		body := append([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"`), big...)
		body = append(body, []byte(`"}}`)...)
		code, data, _ := raw.do("POST", "/api/v1/namespaces/default/configmaps", "application/json", body)
		expectStatus(t, code, data, 413, metav1.StatusReasonRequestEntityTooLarge)
	})
	t.Run("unauthenticated is 401 but health is open", func(t *testing.T) {
		anon := &rawClient{t: t, base: s.URL, http: insecureHTTP()}
		code, body, _ := anon.do("GET", "/api/v1/namespaces", "", nil)
		expectStatus(t, code, body, 401, metav1.StatusReasonUnauthorized)
		for _, p := range []string{"/healthz", "/livez", "/readyz", "/version"} {
			if code, body, _ := anon.do("GET", p, "", nil); code != 200 {
				t.Errorf("%s: %d %s", p, code, body)
			}
		}
	})
}

func causes(st metav1.Status) string {
	if st.Details == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range st.Details.Causes {
		b.WriteString(c.Field + ": " + c.Message + "; ")
	}
	return b.String()
}
