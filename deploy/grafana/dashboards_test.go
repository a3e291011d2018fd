package grafana_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The dashboards as Grafana stores them (the fields the checks read).
type dashboard struct {
	file       string
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *dsRef          `json:"datasource"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Current    struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

type panel struct {
	ID            int      `json:"id"`
	Type          string   `json:"type"`
	Title         string   `json:"title"`
	Datasource    *dsRef   `json:"datasource"`
	Repeat        string   `json:"repeat"`
	Interval      string   `json:"interval"`
	MaxDataPoints int      `json:"maxDataPoints"`
	Targets       []target `json:"targets"`
	Panels        []panel  `json:"panels"` // of a collapsed row
	GridPos       struct {
		H, W, X, Y int
	} `json:"gridPos"`
}

type target struct {
	RefID      string `json:"refId"`
	Datasource *dsRef `json:"datasource"`
	EditorType string `json:"editorType"`
	QueryType  string `json:"queryType"`
	Format     *int   `json:"format"`
	RawSQL     string `json:"rawSql"`
	Expr       string `json:"expr"`
}

const (
	pluginClickHouse = "grafana-clickhouse-datasource"
	pluginPrometheus = "prometheus"
	// The plugin's query formats (its Format enum).
	formatTimeSeries = 0
	formatTable      = 1
)

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in deploy/grafana/dashboards: %v", err)
	}
	var out []dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: cannot decode: %v", f, err)
		}
		d.file = filepath.Base(f)
		out = append(out, d)
	}
	return out
}

// panels lists the dashboard's panels, rows' children included, rows not.
func (d dashboard) panels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

func (d dashboard) variable(name string) *variable {
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}

// provisioning is what the provisioning files declare.
type provisioning struct {
	datasources map[string]string // uid -> type
	paths       []string          // dashboard provider paths
}

func loadProvisioning(t *testing.T) provisioning {
	t.Helper()
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name           string         `yaml:"name"`
			UID            string         `yaml:"uid"`
			Type           string         `yaml:"type"`
			Access         string         `yaml:"access"`
			URL            string         `yaml:"url"`
			Editable       bool           `yaml:"editable"`
			IsDefault      bool           `yaml:"isDefault"`
			JSONData       map[string]any `yaml:"jsonData"`
			SecureJSONData map[string]any `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "provisioning/datasources/sightline.yaml", &ds)
	p := provisioning{datasources: map[string]string{}}
	for _, d := range ds.Datasources {
		if d.Name == "" || d.UID == "" || d.Type == "" {
			t.Errorf("provisioned data source %+v needs a name, a uid and a type", d)
		}
		switch d.Type {
		case pluginClickHouse:
			if d.JSONData["host"] == nil || d.JSONData["port"] == nil {
				t.Errorf("the ClickHouse data source needs jsonData.host and jsonData.port (plugin v4 names): %v", d.JSONData)
			}
		case pluginPrometheus:
			if d.URL == "" {
				t.Errorf("the Prometheus data source needs a url")
			}
		}
		p.datasources[d.UID] = d.Type
	}
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			OrgID                 int    `yaml:"orgId"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "provisioning/dashboards/sightline.yaml", &dash)
	for _, pr := range dash.Providers {
		if pr.Type != "file" || pr.Options.Path == "" {
			t.Errorf("dashboard provider %q must be of type file with options.path", pr.Name)
		}
		p.paths = append(p.paths, pr.Options.Path)
	}
	if ds.APIVersion != 1 || dash.APIVersion != 1 || len(p.paths) == 0 {
		t.Errorf("provisioning files need apiVersion: 1 and a dashboard provider")
	}
	return p
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true) // a misspelt key would be ignored by Grafana
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// What Grafana needs to load and draw the dashboards: unique ids, panels
// on the grid, every query on a data source variable whose default is a
// provisioned data source of the right plugin, formats the plugin knows.
func TestDashboardsAreWellFormed(t *testing.T) {
	prov := loadProvisioning(t)
	uids := map[string]string{}
	var sqlTargets, promTargets int
	for _, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid and title are required", d.file)
		}
		if prev, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share the uid %s", prev, d.file, d.UID)
		}
		uids[d.UID] = d.file
		dsVar := map[string]string{} // "${name}" -> plugin type
		for _, v := range d.Templating.List {
			if v.Type != "datasource" {
				continue
			}
			var plugin string
			_ = json.Unmarshal(v.Query, &plugin)
			cur := currentValues(v.Current.Value)
			if len(cur) != 1 || prov.datasources[cur[0]] != plugin {
				t.Errorf("%s: data source variable %s defaults to %v, not a provisioned %s data source", d.file, v.Name, cur, plugin)
			}
			dsVar["${"+v.Name+"}"] = plugin
		}
		checkRef := func(where string, r *dsRef) string {
			if r == nil {
				t.Errorf("%s: %s has no data source", d.file, where)
				return ""
			}
			if plugin, ok := dsVar[r.UID]; !ok || plugin != r.Type {
				t.Errorf("%s: %s uses data source %+v; use a data source variable of the dashboard (%v)", d.file, where, *r, dsVar)
			}
			return r.Type
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				checkRef("variable "+v.Name, v.Datasource)
			}
		}
		ids := map[int]bool{}
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				if ids[p.ID] {
					t.Errorf("%s: panel id %d used twice", d.file, p.ID)
				}
				ids[p.ID] = true
				walk(p.Panels)
			}
		}
		walk(d.Panels)
		for _, p := range d.panels() {
			where := fmt.Sprintf("panel %q", p.Title)
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: %s is off the 24-column grid: %+v", d.file, where, p.GridPos)
			}
			if p.Repeat != "" && d.variable(p.Repeat) == nil {
				t.Errorf("%s: %s repeats over $%s, which is not defined", d.file, where, p.Repeat)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: %s has no query", d.file, where)
			}
			checkRef(where, p.Datasource)
			for _, tg := range p.Targets {
				switch checkRef(where+" query "+tg.RefID, tg.Datasource) {
				case pluginClickHouse:
					sqlTargets++
					if tg.EditorType != "sql" || strings.TrimSpace(tg.RawSQL) == "" || tg.Format == nil {
						t.Errorf("%s: %s: ClickHouse queries are raw SQL with a format", d.file, where)
						continue
					}
					want := map[string]int{"timeseries": formatTimeSeries, "table": formatTable}[p.Type]
					if p.Type == "stat" {
						want = formatTable
					}
					qt := map[int]string{formatTimeSeries: "timeseries", formatTable: "table"}[*tg.Format]
					if *tg.Format != want || tg.QueryType != qt {
						t.Errorf("%s: %s: a %s panel needs format %d and queryType %q, has %d and %q", d.file, where, p.Type, want, qt, *tg.Format, tg.QueryType)
					}
				case pluginPrometheus:
					promTargets++
					if strings.TrimSpace(tg.Expr) == "" {
						t.Errorf("%s: %s: empty PromQL", d.file, where)
					}
				}
			}
		}
	}
	if sqlTargets < 20 || promTargets < 15 {
		t.Fatalf("found only %d SQL and %d PromQL queries", sqlTargets, promTargets)
	}
}

// Every sightline_* metric a PromQL query (or a variable) uses is one a
// Sightline process registers: a renamed metric would otherwise leave its
// panel empty for good. As in deploy/prometheus's test, a definition is
// the name as a string literal in the code (the aggregate stage builds
// "sightline_aggregate_" + name from a short literal).
func TestPromQLUsesExportedMetrics(t *testing.T) {
	defs := metricDefinitions(t)
	seen := map[string]bool{}
	metric := regexp.MustCompile(`\bsightline_[a-z0-9_]+\b`)
	for _, d := range loadDashboards(t) {
		var exprs []string
		for _, v := range d.Templating.List {
			if v.Datasource != nil && v.Datasource.Type == pluginPrometheus {
				q, err := variableQuery(v.Query)
				if err != nil {
					t.Fatal(err)
				}
				exprs = append(exprs, q)
			}
		}
		for _, p := range d.panels() {
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
		}
		for _, e := range exprs {
			for _, name := range metric.FindAllString(e, -1) {
				base := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if trimmed, ok := strings.CutSuffix(name, suffix); ok && defs(trimmed) {
						base = trimmed
					}
				}
				seen[base] = true
				if !defs(base) {
					t.Errorf("%s uses %s, which no Sightline process registers", d.file, name)
				}
			}
		}
	}
	if len(seen) < 25 {
		t.Fatalf("found only %d metric names in the dashboards", len(seen))
	}
}

// metricDefinitions reads the non-test Go source of the module and
// returns whether a metric name is defined there.
func metricDefinitions(t *testing.T) func(string) bool {
	t.Helper()
	var src strings.Builder
	for _, dir := range []string{"../../processors", "../../sinks", "../../internal", "../../collector"} {
		err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			src.Write(b)
			return err
		})
		if err != nil {
			t.Fatalf("cannot read the metric definitions: %v", err)
		}
	}
	defs := src.String()
	return func(name string) bool {
		if strings.Contains(defs, `"`+name+`"`) {
			return true
		}
		short, ok := strings.CutPrefix(name, "sightline_aggregate_")
		return ok && strings.Contains(defs, `("`+short+`"`) && strings.Contains(defs, `"sightline_aggregate_" + name`)
	}
}
