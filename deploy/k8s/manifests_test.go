// Package k8s_test checks the Kubernetes manifests against what the
// binaries accept: every sightline container's arguments are a command and
// flags of the CLI, its config file (the ConfigMap's) loads with
// internal/config, its probes and ports follow from http_addr, every
// password_env it names is an environment variable from an existing
// Secret key, and every ConfigMap, Secret, Deployment and label selector
// referred to exists. It decodes with go.yaml.in/yaml/v3 into the few fields
// it checks: it is no validation against the Kubernetes API schema (run
// `kubectl apply --dry-run=server -k deploy/k8s` against a cluster for
// that), and it keeps k8s.io modules out of go.mod.
package k8s_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sightline-dev/sightline/internal/cli"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/sdk"
)

const (
	namespace = "sightline"
	image     = "ghcr.io/sightline-dev/sightline:" + sdk.Version
)

type meta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type keyPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

type podSpec struct {
	Containers     []container `yaml:"containers"`
	InitContainers []container `yaml:"initContainers"`
	Volumes        []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name  string    `yaml:"name"`
			Items []keyPath `yaml:"items"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName string    `yaml:"secretName"`
			Items      []keyPath `yaml:"items"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

// object is every kind's fields this test reads.
type object struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   meta              `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Selector yaml.Node `yaml:"selector"` // matchLabels (Deployment, PDB) or a map (Service)
		Template struct {
			Metadata meta    `yaml:"metadata"`
			Spec     podSpec `yaml:"spec"`
		} `yaml:"template"`
		ScaleTargetRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		AuthenticationRef *struct {
			Name string `yaml:"name"`
		} `yaml:"authenticationRef"`
		SecretTargetRef []struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretTargetRef"`
		Triggers []struct {
			Metadata          map[string]string `yaml:"metadata"`
			AuthenticationRef *struct {
				Name string `yaml:"name"`
			} `yaml:"authenticationRef"`
		} `yaml:"triggers"`
	} `yaml:"spec"`
	file string
}

func (o *object) String() string { return o.file + ": " + o.Kind + " " + o.Metadata.Name }

// The kinds the manifests may hold (a typo in apiVersion or kind fails).
var kinds = map[string]bool{
	"v1 Namespace": true, "v1 ConfigMap": true, "v1 Secret": true, "v1 Service": true,
	"apps/v1 Deployment": true, "batch/v1 Job": true, "policy/v1 PodDisruptionBudget": true,
	"autoscaling/v2 HorizontalPodAutoscaler": true,
	"keda.sh/v1alpha1 ScaledObject":          true, "keda.sh/v1alpha1 TriggerAuthentication": true,
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func load(t *testing.T) []*object {
	t.Helper()
	var k struct {
		Kind      string   `yaml:"kind"`
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(read(t, "kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.Kind != "Kustomization" || k.Namespace != namespace {
		t.Fatalf("kustomization.yaml: kind %q, namespace %q", k.Kind, k.Namespace)
	}
	files, _ := filepath.Glob("*.yaml")
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	if got := slices.Sorted(slices.Values(k.Resources)); !slices.Equal(got, files) {
		t.Fatalf("kustomization.yaml lists %v, the directory holds %v: a manifest would not be applied", got, files)
	}
	var out []*object
	for _, f := range k.Resources {
		for i, doc := range docSep.Split(string(read(t, f)), -1) {
			o := &object{}
			if err := yaml.Unmarshal([]byte(doc), o); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			if o.Kind == "" {
				continue // comments only
			}
			o.file = f
			if !kinds[o.APIVersion+" "+o.Kind] {
				t.Errorf("%s: %s %s is not a kind these manifests are checked for", o, o.APIVersion, o.Kind)
			}
			if o.Metadata.Name == "" {
				t.Errorf("%s, document %d: no metadata.name", f, i+1)
			}
			if o.Metadata.Namespace != "" && o.Metadata.Namespace != namespace {
				t.Errorf("%s: namespace %s, want %s (or none: kustomization sets it)", o, o.Metadata.Namespace, namespace)
			}
			out = append(out, o)
		}
	}
	return out
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func find(objs []*object, kind, name string) *object {
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	return nil
}

func hasKey(o *object, key string) bool {
	_, a := o.Data[key]
	_, b := o.StringData[key]
	return a || b
}

// Every Secret and ConfigMap a pod or a KEDA TriggerAuthentication refers
// to exists and holds the key.
func TestReferencesResolve(t *testing.T) {
	objs := load(t)
	ref := func(where, kind, name, key string) {
		o := find(objs, kind, name)
		switch {
		case o == nil:
			t.Errorf("%s: refers to %s %s, which no manifest defines", where, kind, name)
		case key != "" && !hasKey(o, key):
			t.Errorf("%s: refers to key %s of %s %s, which it does not hold", where, key, kind, name)
		}
	}
	pods := 0
	for _, o := range objs {
		spec := &o.Spec.Template.Spec
		for _, c := range slices.Concat(spec.Containers, spec.InitContainers) {
			pods++
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref(o.String()+" container "+c.Name+" env "+e.Name, "Secret", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
			}
		}
		for _, v := range spec.Volumes {
			if v.ConfigMap != nil {
				ref(o.String()+" volume "+v.Name, "ConfigMap", v.ConfigMap.Name, "")
				for _, it := range v.ConfigMap.Items {
					ref(o.String()+" volume "+v.Name, "ConfigMap", v.ConfigMap.Name, it.Key)
				}
			}
			if v.Secret != nil {
				ref(o.String()+" volume "+v.Name, "Secret", v.Secret.SecretName, "")
				for _, it := range v.Secret.Items {
					ref(o.String()+" volume "+v.Name, "Secret", v.Secret.SecretName, it.Key)
				}
			}
		}
		for _, tr := range o.Spec.Triggers {
			if tr.AuthenticationRef != nil && find(objs, "TriggerAuthentication", tr.AuthenticationRef.Name) == nil {
				t.Errorf("%s: trigger authentication %s is not defined", o, tr.AuthenticationRef.Name)
			}
		}
		for _, s := range o.Spec.SecretTargetRef {
			ref(o.String(), "Secret", s.Name, s.Key)
		}
		if o.Kind == "ScaledObject" || o.Kind == "HorizontalPodAutoscaler" {
			if find(objs, o.Spec.ScaleTargetRef.Kind, o.Spec.ScaleTargetRef.Name) == nil {
				t.Errorf("%s: scales %s %s, which no manifest defines", o, o.Spec.ScaleTargetRef.Kind, o.Spec.ScaleTargetRef.Name)
			}
		}
	}
	if pods == 0 {
		t.Fatal("no containers found: the decoding is broken")
	}
}

// Every Service and PodDisruptionBudget selects the pods of a Deployment.
func TestSelectorsMatchPods(t *testing.T) {
	objs := load(t)
	for _, o := range objs {
		if o.Kind != "Service" && o.Kind != "PodDisruptionBudget" && o.Kind != "Deployment" {
			continue
		}
		var sel map[string]string
		if o.Kind == "Service" {
			_ = o.Spec.Selector.Decode(&sel)
		} else {
			var s struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			}
			_ = o.Spec.Selector.Decode(&s)
			sel = s.MatchLabels
		}
		if len(sel) == 0 {
			t.Errorf("%s: no selector", o)
			continue
		}
		matched := false
		for _, d := range objs {
			if d.Kind != "Deployment" || (o.Kind == "Deployment" && d != o) {
				continue
			}
			ok := true
			for k, v := range sel {
				ok = ok && d.Spec.Template.Metadata.Labels[k] == v
			}
			matched = matched || ok
		}
		if !matched {
			t.Errorf("%s: selector %v matches no Deployment's pods", o, sel)
		}
	}
}

// The sightline containers: their arguments are a command and flags the
// CLI has, their config file is the ConfigMap's and loads with
// internal/config, the ports and probes follow from http_addr, the
// passwords come from Secrets, and the image is the one the Dockerfile
// builds.
func TestSightlineContainersMatchTheCLIAndConfig(t *testing.T) {
	objs := load(t)
	entry := dockerEntrypoint(t)
	seen := map[string]bool{}
	for _, o := range objs {
		spec := &o.Spec.Template.Spec
		for _, c := range slices.Concat(spec.Containers, spec.InitContainers) {
			where := o.String() + " container " + c.Name
			if c.Image != image && strings.HasPrefix(c.Image, "ghcr.io/sightline-dev/") {
				t.Errorf("%s: image %s, want %s (sdk.Version)", where, c.Image, image)
			}
			if len(c.Command) != 1 || path.Base(c.Command[0]) != "sightline" {
				continue
			}
			if c.Command[0] != entry {
				t.Errorf("%s: runs %s, the image has %s", where, c.Command[0], entry)
			}
			root := cli.NewRoot(io.Discard, io.Discard)
			cmd, rest, err := root.Find(c.Args)
			if err != nil || cmd == root || len(c.Args) == 0 || cmd.Name() != c.Args[0] {
				t.Errorf("%s: %v is not a sightline command (%v)", where, c.Args, err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s: sightline %s does not take %v: %v", where, cmd.Name(), rest, err)
				continue
			}
			seen[cmd.Name()] = true
			cfgPath, err := cmd.Flags().GetString("config")
			if err != nil || cfgPath == "" {
				t.Errorf("%s: no --config", where)
				continue
			}
			cfg := loadMounted(t, objs, spec, c, cfgPath, where)
			if cfg == nil {
				continue
			}
			if len(cfg.ClickHouse.Addrs) == 0 {
				t.Errorf("%s: clickhouse.addr is empty: the process would start a local server", where)
			}
			envs := map[string]string{"clickhouse.password_env": cfg.ClickHouse.PasswordEnv}
			if cmd.Name() == "score" || cmd.Name() == "aggregate" { // the Kafka clients
				envs["kafka.sasl.password_env"] = cfg.Kafka.SASL.PasswordEnv
			}
			for key, env := range envs {
				if env != "" && !slices.ContainsFunc(c.Env, func(e struct {
					Name      string `yaml:"name"`
					ValueFrom *struct {
						SecretKeyRef *struct {
							Name string `yaml:"name"`
							Key  string `yaml:"key"`
						} `yaml:"secretKeyRef"`
					} `yaml:"valueFrom"`
				}) bool {
					return e.Name == env && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
				}) {
					t.Errorf("%s: %s names %s, which the container does not get from a Secret", where, key, env)
				}
			}
			if cmd.Name() == "migrate" {
				continue
			}
			host, port, err := net.SplitHostPort(cfg.HTTPAddr)
			if err != nil {
				t.Errorf("%s: http_addr %q: %v", where, cfg.HTTPAddr, err)
				continue
			}
			if host == "localhost" || strings.HasPrefix(host, "127.") {
				t.Errorf("%s: http_addr %s is loopback: the kubelet's probes cannot reach it", where, cfg.HTTPAddr)
			}
			httpPort := ""
			for _, p := range c.Ports {
				if p.Name == "http" {
					httpPort = itoa(p.ContainerPort)
				}
			}
			if httpPort != port {
				t.Errorf("%s: container port http is %q, http_addr listens on %s", where, httpPort, port)
			}
			for _, pr := range []struct {
				name, path string
				p          *probe
			}{{"readiness", "/readyz", c.ReadinessProbe}, {"liveness", "/healthz", c.LivenessProbe}} {
				switch {
				case pr.p == nil || pr.p.HTTPGet == nil:
					t.Errorf("%s: no HTTP %s probe", where, pr.name)
				case pr.p.HTTPGet.Path != pr.path:
					t.Errorf("%s: %s probe on %s, want %s", where, pr.name, pr.p.HTTPGet.Path, pr.path)
				case pr.p.HTTPGet.Port != "http" && itoaAny(pr.p.HTTPGet.Port) != port:
					t.Errorf("%s: %s probe port %v is not http_addr's %s", where, pr.name, pr.p.HTTPGet.Port, port)
				}
			}
		}
	}
	for _, want := range []string{"score", "aggregate", "console", "migrate"} {
		if !seen[want] {
			t.Errorf("no container runs sightline %s", want)
		}
	}
}

// loadMounted finds the ConfigMap key mounted at cfgPath and loads it.
func loadMounted(t *testing.T, objs []*object, spec *podSpec, c container, cfgPath, where string) *config.Config {
	t.Helper()
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(cfgPath, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			key := rel
			for _, it := range v.ConfigMap.Items {
				if it.Path == rel {
					key = it.Key
				}
			}
			cm := find(objs, "ConfigMap", v.ConfigMap.Name)
			if cm == nil || cm.Data[key] == "" {
				t.Errorf("%s: --config %s: ConfigMap %s has no key %s", where, cfgPath, v.ConfigMap.Name, key)
				return nil
			}
			p := filepath.Join(t.TempDir(), "sightline.yaml")
			if err := os.WriteFile(p, []byte(cm.Data[key]), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(p)
			if err != nil {
				t.Errorf("%s: ConfigMap %s key %s does not load: %v", where, cm.Metadata.Name, key, err)
				return nil
			}
			return &cfg
		}
	}
	t.Errorf("%s: --config %s is not in a mounted ConfigMap", where, cfgPath)
	return nil
}

// dockerEntrypoint is the path of sightline in the image deploy/Dockerfile
// builds.
func dockerEntrypoint(t *testing.T) string {
	t.Helper()
	b := read(t, filepath.Join("..", "Dockerfile"))
	m := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy/Dockerfile has no ENTRYPOINT [\"...\"]")
	}
	if !bytes.Contains(b, []byte("COPY --from=build /out/sightline "+string(m[1]))) {
		t.Fatalf("deploy/Dockerfile does not copy sightline to its ENTRYPOINT %s", m[1])
	}
	return string(m[1])
}

func itoa(n int) string { return strconv.Itoa(n) }

func itoaAny(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case string:
		return x
	}
	return ""
}

// A misspelled kind is caught (the decoding is not silently lenient about
// what it checks).
func TestUnknownKindRefused(t *testing.T) {
	var o object
	if err := yaml.Unmarshal([]byte("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n"), &o); err != nil {
		t.Fatal(err)
	}
	if kinds[o.APIVersion+" "+o.Kind] {
		t.Fatal("a misspelled kind is accepted")
	}
	if err := yaml.Unmarshal([]byte("kind: [\n"), &o); err == nil {
		t.Fatal("broken YAML decoded")
	}
}
