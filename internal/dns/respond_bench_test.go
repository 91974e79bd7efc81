package dns

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// BenchmarkRespond measures the server's own work per question, without
// sockets: parse-free (the request is already a Msg), answer, fit, pack.
func BenchmarkRespond(b *testing.B) {
	registerMetrics()
	cat := catalog{
		services: cache.NewIndexer(cache.MetaNamespaceKeyFunc, serviceIndexers()),
		slices:   cache.NewIndexer(cache.MetaNamespaceKeyFunc, sliceIndexers()),
	}
	for i := range 1000 {
		ip := net.IPv4(10, 43, byte(i/256), byte(i%256)).String()
		_ = cat.services.Add(&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "svc" + strconv.Itoa(i)},
			Spec:       corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: []string{ip}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})
	}
	s := &Server{
		log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		zone: newZone("cluster.local.", 5, cat, nil, 1),
		fwd:  newForwarder(nil, newResponseCache(1000, time.Now)),
	}
	ext := new(dns.Msg).SetQuestion("example.com.", dns.TypeA)
	up := new(dns.Msg).SetReply(ext)
	up.Answer = []dns.RR{&dns.A{Hdr: hdr("example.com.", dns.TypeA, 3600), A: net.IPv4(192, 0, 2, 1)}}
	s.fwd.cache.put(keyOf(ext.Question[0], false, false), up)

	for _, tc := range []struct{ name, qname string }{
		{"cluster-A", "svc500.default.svc.cluster.local."},
		{"NXDOMAIN", "svc500.default.svc.cluster.local.svc.cluster.local."},
		{"cached-external", "example.com."},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := new(dns.Msg).SetQuestion(tc.qname, dns.TypeA)
			b.ReportAllocs()
			for b.Loop() {
				resp, _ := s.respond(req)
				fitResponse(req, resp, false)
				if _, err := resp.Pack(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
