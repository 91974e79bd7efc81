package deps
import (
 _ "k8s.io/api/core/v1"
 _ "k8s.io/apimachinery/pkg/api/errors"
 _ "k8s.io/apimachinery/pkg/util/managedfields"
 _ "k8s.io/apimachinery/pkg/util/strategicpatch"
 _ "k8s.io/client-go/kubernetes"
 _ "k8s.io/client-go/applyconfigurations"
 _ "k8s.io/client-go/informers"
 _ "go.etcd.io/etcd/server/v3/embed"
 _ "go.etcd.io/etcd/client/v3"
 _ "github.com/spf13/cobra"
 _ "gopkg.in/evanphx/json-patch.v4"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "sigs.k8s.io/yaml"
)

