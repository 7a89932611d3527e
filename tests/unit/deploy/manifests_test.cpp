// The deploy artefacts keep the promises operators rely on: the Kubernetes manifests pass
// Pod Security "restricted", reference only objects they ship, shut down without dropping
// requests; the Dockerfile runs as a numeric user without the demo backend; .dockerignore
// keeps local build dirs out of the context. Each check returns its problems as text, and
// the *_RejectsOld tests run it on the artefacts as they were before (inline below), so a
// check that cannot fail shows up here.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path kSource = AUTHGATE_SOURCE_DIR;
const fs::path kManifestDir = kSource / "deploy/kubernetes";

using Problems = std::vector<std::string>;

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string join(const Problems& p) {
    std::string out;
    for (const auto& s : p) out += "  " + s + "\n";
    return out;
}

// Every object in deploy/kubernetes/ (the kustomization itself is not one).
std::vector<YAML::Node> load_manifests() {
    std::vector<YAML::Node> docs;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(kManifestDir))
        if (e.path().extension() == ".yaml" && e.path().filename() != "kustomization.yaml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
        for (const auto& d : YAML::LoadAllFromFile(f.string()))
            if (d.IsMap()) docs.push_back(d);
    return docs;
}

std::vector<YAML::Node> of_kind(const std::vector<YAML::Node>& docs, const std::string& kind) {
    std::vector<YAML::Node> out;
    for (const auto& d : docs)
        if (d["kind"] && d["kind"].as<std::string>() == kind) out.push_back(d);
    return out;
}

bool has_named(const std::vector<YAML::Node>& docs, const std::string& kind, const std::string& name) {
    for (const auto& d : of_kind(docs, kind))
        if (d["metadata"]["name"] && d["metadata"]["name"].as<std::string>() == name) return true;
    return false;
}

// node[k1][k2]... or an undefined node when any step is missing (yaml-cpp throws instead).
YAML::Node dig(YAML::Node n, std::initializer_list<const char*> keys) {
    for (const char* k : keys) {
        if (!n || !n.IsMap() || !n[k]) return YAML::Node(YAML::NodeType::Undefined);
        n.reset(n[k]);  // rebinds; operator= would overwrite the node in the document
    }
    return n;
}

// A container's setting, else the pod's (Kubernetes' own precedence).
YAML::Node effective(const YAML::Node& container, const YAML::Node& pod, const std::string& key) {
    if (container["securityContext"] && container["securityContext"][key]) return container["securityContext"][key];
    if (pod["securityContext"] && pod["securityContext"][key]) return pod["securityContext"][key];
    return YAML::Node();
}

std::vector<YAML::Node> containers_of(const YAML::Node& pod) {
    std::vector<YAML::Node> out;
    for (const char* list : {"initContainers", "containers"})
        if (pod[list])
            for (const auto& c : pod[list]) out.push_back(c);
    return out;
}

// Pod Security "restricted", per container, plus the read-only root filesystem.
Problems check_security(const std::vector<YAML::Node>& docs) {
    Problems p;
    const auto deployments = of_kind(docs, "Deployment");
    if (deployments.empty()) p.push_back("no Deployment");
    for (const auto& d : deployments) {
        const YAML::Node pod = d["spec"]["template"]["spec"];
        for (const auto& c : containers_of(pod)) {
            const std::string who = "container " + c["name"].as<std::string>("?") + ": ";
            auto is = [&](const YAML::Node& n, const std::string& v) { return n && n.as<std::string>() == v; };
            if (!is(effective(c, pod, "runAsNonRoot"), "true")) p.push_back(who + "runAsNonRoot is not true");
            if (!is(effective(c, pod, "runAsUser"), "10001")) p.push_back(who + "runAsUser is not 10001");
            YAML::Node sc = c["securityContext"];
            if (!sc || !is(sc["allowPrivilegeEscalation"], "false"))
                p.push_back(who + "allowPrivilegeEscalation is not false");
            if (!sc || !is(sc["readOnlyRootFilesystem"], "true")) p.push_back(who + "readOnlyRootFilesystem is not true");
            bool drops_all = false;
            if (sc && sc["capabilities"] && sc["capabilities"]["drop"])
                for (const auto& cap : sc["capabilities"]["drop"]) drops_all |= cap.as<std::string>() == "ALL";
            if (!drops_all) p.push_back(who + "capabilities.drop lacks ALL");
            if (sc && sc["capabilities"] && sc["capabilities"]["add"])
                for (const auto& cap : sc["capabilities"]["add"])
                    if (cap.as<std::string>() != "NET_BIND_SERVICE") p.push_back(who + "adds capability " + cap.as<std::string>());
            YAML::Node seccomp = effective(c, pod, "seccompProfile");
            if (!seccomp || !(is(seccomp["type"], "RuntimeDefault") || is(seccomp["type"], "Localhost")))
                p.push_back(who + "seccompProfile is not RuntimeDefault");
            if (!c["resources"] || !c["resources"]["requests"] || !c["resources"]["requests"]["cpu"] ||
                !c["resources"]["requests"]["memory"] || !c["resources"]["limits"] || !c["resources"]["limits"]["memory"])
                p.push_back(who + "resources need requests cpu+memory and a memory limit");
        }
    }
    return p;
}

// The ConfigMap holding the gateway config the Deployment mounts.
std::optional<YAML::Node> gateway_config(const std::vector<YAML::Node>& docs) {
    for (const auto& d : of_kind(docs, "Deployment")) {
        const YAML::Node pod = d["spec"]["template"]["spec"];
        if (!pod["volumes"]) continue;
        for (const auto& v : pod["volumes"]) {
            if (!v["configMap"]) continue;
            const std::string name = v["configMap"]["name"].as<std::string>();
            for (const auto& cm : of_kind(docs, "ConfigMap"))
                if (cm["metadata"]["name"].as<std::string>() == name && cm["data"] && cm["data"]["authgate.yaml"])
                    return YAML::Load(cm["data"]["authgate.yaml"].as<std::string>());
        }
    }
    return std::nullopt;
}

// Probes on the admin listener's port: startup, /readyz, /healthz.
Problems check_probes(const std::vector<YAML::Node>& docs) {
    Problems p;
    std::string admin_port;
    if (const auto cfg = gateway_config(docs); cfg && (*cfg)["admin"] && (*cfg)["admin"]["listen"]) {
        const std::string listen = (*cfg)["admin"]["listen"].as<std::string>();
        admin_port = listen.substr(listen.rfind(':') + 1);
        if (listen.rfind("127.", 0) == 0 || listen.rfind("localhost", 0) == 0)
            p.push_back("admin.listen is loopback; the kubelet probes the pod IP");
    } else {
        p.push_back("the mounted config has no admin.listen, so there is nothing to probe");
    }
    for (const auto& d : of_kind(docs, "Deployment")) {
        for (const auto& c : d["spec"]["template"]["spec"]["containers"]) {
            const std::string who = "container " + c["name"].as<std::string>("?") + ": ";
            auto port_of = [&](const YAML::Node& probe) -> std::string {
                const std::string port = probe["httpGet"]["port"].as<std::string>("");
                if (c["ports"])
                    for (const auto& cp : c["ports"])
                        if (cp["name"] && cp["name"].as<std::string>() == port) return cp["containerPort"].as<std::string>();
                return port;
            };
            auto expect = [&](const char* kind, const std::string& path) {
                const YAML::Node probe = c[kind];
                if (!probe || !probe["httpGet"]) return p.push_back(who + kind + " missing");
                if (probe["httpGet"]["path"].as<std::string>("") != path) p.push_back(who + kind + " is not " + path);
                if (port_of(probe) != admin_port) p.push_back(who + kind + " does not probe the admin port " + admin_port);
            };
            expect("startupProbe", "/healthz");
            expect("readinessProbe", "/readyz");
            expect("livenessProbe", "/healthz");
        }
    }
    return p;
}

// Every ConfigMap and Secret the Deployment refers to is among the manifests.
Problems check_references(const std::vector<YAML::Node>& docs) {
    Problems p;
    auto need = [&](const std::string& kind, const YAML::Node& name) {
        if (name && !has_named(docs, kind, name.as<std::string>()))
            p.push_back(kind + " " + name.as<std::string>() + " is referenced but not in the manifests");
    };
    for (const auto& d : of_kind(docs, "Deployment")) {
        const YAML::Node pod = d["spec"]["template"]["spec"];
        if (pod["volumes"])
            for (const auto& v : pod["volumes"]) {
                if (v["configMap"]) need("ConfigMap", v["configMap"]["name"]);
                if (v["secret"]) need("Secret", v["secret"]["secretName"]);
            }
        for (const auto& c : containers_of(pod)) {
            if (c["env"])
                for (const auto& e : c["env"]) {
                    if (!e["valueFrom"]) continue;
                    if (e["valueFrom"]["secretKeyRef"]) need("Secret", e["valueFrom"]["secretKeyRef"]["name"]);
                    if (e["valueFrom"]["configMapKeyRef"]) need("ConfigMap", e["valueFrom"]["configMapKeyRef"]["name"]);
                }
            if (c["envFrom"])
                for (const auto& e : c["envFrom"]) {
                    if (e["secretRef"]) need("Secret", e["secretRef"]["name"]);
                    if (e["configMapRef"]) need("ConfigMap", e["configMapRef"]["name"]);
                }
        }
    }
    // The config's ${VAR} without a default must reach the container through env.
    if (const auto cfg = gateway_config(docs)) {
        YAML::Emitter out;
        out << *cfg;
        const std::string text = out.c_str();
        std::regex var(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
        for (std::sregex_iterator it(text.begin(), text.end(), var), end; it != end; ++it) {
            bool set = false;
            for (const auto& d : of_kind(docs, "Deployment"))
                for (const auto& c : d["spec"]["template"]["spec"]["containers"])
                    if (c["env"])
                        for (const auto& e : c["env"]) set |= e["name"].as<std::string>() == (*it)[1].str();
            if (!set) p.push_back("the config needs ${" + (*it)[1].str() + "} but no container env sets it");
        }
    }
    return p;
}

// The PDB and the HPA act on the Deployment.
Problems check_pdb_hpa(const std::vector<YAML::Node>& docs) {
    Problems p;
    const auto deployments = of_kind(docs, "Deployment");
    if (deployments.size() != 1) return {"expected one Deployment"};
    const YAML::Node dep = deployments.front();
    const YAML::Node labels = dep["spec"]["template"]["metadata"]["labels"];
    auto selects = [&](const YAML::Node& match) {
        if (!match || match.size() == 0) return false;
        for (const auto& kv : match)
            if (!labels[kv.first.as<std::string>()] ||
                labels[kv.first.as<std::string>()].as<std::string>() != kv.second.as<std::string>())
                return false;
        return true;
    };
    const auto pdbs = of_kind(docs, "PodDisruptionBudget");
    if (pdbs.empty()) p.push_back("no PodDisruptionBudget");
    for (const auto& pdb : pdbs) {
        if (pdb["apiVersion"].as<std::string>() != "policy/v1") p.push_back("PDB is not policy/v1");
        if (!selects(dig(pdb, {"spec", "selector", "matchLabels"}))) p.push_back("PDB does not select the Deployment's pods");
        if (!pdb["spec"]["minAvailable"] && !pdb["spec"]["maxUnavailable"]) p.push_back("PDB sets no budget");
    }
    const auto hpas = of_kind(docs, "HorizontalPodAutoscaler");
    if (hpas.empty()) p.push_back("no HorizontalPodAutoscaler");
    for (const auto& hpa : hpas) {
        if (hpa["apiVersion"].as<std::string>() != "autoscaling/v2") p.push_back("HPA is not autoscaling/v2");
        const YAML::Node ref = hpa["spec"]["scaleTargetRef"];
        if (!ref || ref["kind"].as<std::string>("") != "Deployment" ||
            ref["name"].as<std::string>("") != dep["metadata"]["name"].as<std::string>())
            p.push_back("HPA does not target the Deployment");
        if (hpa["spec"]["minReplicas"].as<int>(1) < 2) p.push_back("HPA minReplicas below 2 defeats the PDB");
    }
    return p;
}

// "20s", "1500ms", "1m" -> seconds (the config's duration syntax, as much as manifests use).
double seconds(const std::string& d) {
    std::size_t n = 0;
    const double v = std::stod(d, &n);
    const std::string unit = d.substr(n);
    if (unit == "ms") return v / 1000;
    if (unit == "m") return v * 60;
    if (unit == "h") return v * 3600;
    return v;  // "s" or bare
}

// terminationGracePeriodSeconds > preStop sleep + server.timeouts.drain_delay +
// server.timeouts.shutdown: SIGTERM comes after the sleep, the gateway then keeps serving
// for drain_delay and drains within shutdown.
Problems check_shutdown(const std::vector<YAML::Node>& docs) {
    Problems p;
    double shutdown = 10;  // the loader's defaults
    double drain_delay = 5;
    if (const auto cfg = gateway_config(docs)) {
        if (const YAML::Node v = dig(*cfg, {"server", "timeouts", "shutdown"})) shutdown = seconds(v.as<std::string>());
        if (const YAML::Node v = dig(*cfg, {"server", "timeouts", "drain_delay"}))
            drain_delay = seconds(v.as<std::string>());
        shutdown += drain_delay;
    } else {
        p.push_back("no gateway config found for the Deployment");
    }
    for (const auto& d : of_kind(docs, "Deployment")) {
        const YAML::Node pod = d["spec"]["template"]["spec"];
        const double grace = pod["terminationGracePeriodSeconds"].as<double>(30);
        for (const auto& c : pod["containers"]) {
            const YAML::Node pre = dig(c, {"lifecycle", "preStop"});
            double sleep = -1;
            if (pre && pre["sleep"]) sleep = pre["sleep"]["seconds"].as<double>();
            if (pre && pre["exec"]) {
                const YAML::Node cmd = pre["exec"]["command"];
                if (cmd && cmd.size() == 2 && cmd[0].as<std::string>() == "/bin/sleep") sleep = cmd[1].as<double>();
            }
            if (sleep < 1) {
                p.push_back("container " + c["name"].as<std::string>("?") + ": no preStop sleep");
                continue;
            }
            if (!(grace > sleep + shutdown))
                p.push_back("terminationGracePeriodSeconds " + std::to_string(grace) + " <= preStop " +
                            std::to_string(sleep) + " + drain_delay and shutdown " + std::to_string(shutdown));
        }
    }
    return p;
}

// The Dockerfile's last stage (the image `docker build .` produces).
std::string final_stage(const std::string& dockerfile) {
    std::regex from(R"((^|\n)FROM[ \t])", std::regex::icase);
    std::size_t last = 0;
    for (std::sregex_iterator it(dockerfile.begin(), dockerfile.end(), from), end; it != end; ++it)
        last = static_cast<std::size_t>(it->position());
    return dockerfile.substr(last);
}

Problems check_dockerfile(const std::string& dockerfile) {
    Problems p;
    const std::string last = final_stage(dockerfile);
    std::smatch m;
    std::regex user(R"((^|\n)USER[ \t]+([^\s]+))");
    std::string found;
    for (auto it = last.cbegin(); std::regex_search(it, last.cend(), m, user); it = m.suffix().first) found = m[2];
    if (found.empty()) p.push_back("final stage sets no USER");
    else if (!std::regex_match(found, std::regex(R"([1-9][0-9]*(:[0-9]+)?)")))
        p.push_back("USER " + found + " is not numeric (runAsNonRoot cannot verify a name)");
    if (last.find("authgate-demo-backend") != std::string::npos) p.push_back("the demo backend is in the final stage");
    // Base images: a point-release tag (debian:12.8...) or a digest, never a moving tag.
    std::regex from(R"((^|\n)FROM[ \t]+([^\s]+))", std::regex::icase);
    std::set<std::string> stages;
    std::regex as(R"((^|\n)FROM[ \t]+[^\s]+[ \t]+AS[ \t]+([^\s]+))", std::regex::icase);
    for (std::sregex_iterator it(dockerfile.begin(), dockerfile.end(), as), end; it != end; ++it) stages.insert((*it)[2]);
    for (std::sregex_iterator it(dockerfile.begin(), dockerfile.end(), from), end; it != end; ++it) {
        const std::string image = (*it)[2];
        if (stages.count(image)) continue;
        if (!std::regex_search(image, std::regex(R"(:[0-9]+\.[0-9]+|@sha256:)")))
            p.push_back("base image " + image + " is not pinned to a point release or digest");
    }
    // The CMD's config exists in the image.
    std::regex cmd(R"re((^|\n)CMD[ \t]+\[[^\]]*"-c",[ \t]*"([^"]+)")re");
    std::string baked;  // the source file COPY'd to the CMD's config path
    if (std::regex_search(last, m, cmd)) {
        const std::string path = m[2];
        if (std::regex_search(last, m, std::regex("COPY[^\n]*[ \t]([^\\s]+)[ \t]+" + path + "[ \t]*(\n|$)")))
            baked = m[1];
        else
            p.push_back("CMD reads " + path + " but the final stage does not COPY a file there");
    } else {
        p.push_back("no CMD [\"-c\", FILE]");
    }
    // HEALTHCHECK through the image's own binary (there is no curl), on the admin port of
    // the config the image runs with.
    std::regex health(R"re((^|\n)HEALTHCHECK[^\n]*(\\\n[^\n]*)*CMD[ \t]+\[([^\]]*)\])re");
    if (!std::regex_search(last, m, health)) {
        p.push_back("no HEALTHCHECK CMD [...] in the final stage");
        return p;
    }
    std::vector<std::string> args;
    const std::string list = m[3];
    std::regex quoted(R"re("([^"]*)")re");
    for (std::sregex_iterator it(list.begin(), list.end(), quoted), end; it != end; ++it) args.push_back((*it)[1]);
    std::string binary = "the ENTRYPOINT binary";
    if (std::regex_search(last, m, std::regex(R"re(ENTRYPOINT[ \t]+\[[ \t]*"([^"]+)")re"))) binary = m[1];
    if (args.size() != 3 || args[0] != binary || args[1] != "health") {
        p.push_back("HEALTHCHECK does not run [\"" + binary + "\", \"health\", URL]");
        return p;
    }
    if (!std::regex_match(args[2], m, std::regex(R"(http://(127\.0\.0\.1|localhost|\[::1\]):([0-9]+)/(readyz|healthz))"))) {
        p.push_back("HEALTHCHECK URL " + args[2] + " is not http://127.0.0.1:PORT/readyz or /healthz");
        return p;
    }
    const std::string port = m[2];
    if (!baked.empty()) {
        const YAML::Node cfg = YAML::LoadFile((kSource / baked).string());
        const std::string listen = cfg["admin"] && cfg["admin"]["listen"] ? cfg["admin"]["listen"].as<std::string>() : "";
        const std::string admin_port = listen.substr(listen.rfind(':') + 1);
        if (listen.empty())
            p.push_back("the baked config " + baked + " has no admin.listen for the HEALTHCHECK to probe");
        else if (admin_port != port)
            p.push_back("HEALTHCHECK probes port " + port + ", the baked config's admin port is " + admin_port);
    }
    return p;
}

Problems check_dockerignore(const std::string& text) {
    Problems p;
    std::set<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.insert(l);
    if (!lines.count("build*/") && !lines.count("build*")) p.push_back(".dockerignore does not exclude build*/");
    if (!lines.count(".git/") && !lines.count(".git")) p.push_back(".dockerignore does not exclude .git");
    if (!lines.count("**/CMakeCache.txt")) p.push_back(".dockerignore does not exclude stray CMakeCache.txt");
    return p;
}

// ---- the artefacts as they were before issue #11, trimmed, for the negative tests ----
// (The manifest gains the Secret reference its comment promised, and the Dockerfile keeps
// only the lines the checks look at.)

const char* kOldManifest = R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: authgate-config
data:
  authgate.yaml: |
    server:
      listen: 0.0.0.0:8080
      timeouts:
        shutdown: 20s
    admin:
      listen: 0.0.0.0:9901
    jwt:
      providers:
        service:
          algorithms: [HS256]
          keys:
            secret: ${JWT_SECRET}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: authgate
spec:
  replicas: 3
  selector:
    matchLabels: {app: authgate}
  template:
    metadata:
      labels: {app: authgate}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: authgate
          image: authgate:latest
          env:
            - name: JWT_SECRET
              valueFrom:
                secretKeyRef: {name: authgate-secrets, key: JWT_SECRET}
          ports:
            - containerPort: 8080
            - containerPort: 9901
              name: admin
          resources:
            requests: {cpu: 250m, memory: 64Mi}
            limits: {memory: 256Mi}
          readinessProbe:
            httpGet: {path: /readyz, port: admin}
          livenessProbe:
            httpGet: {path: /healthz, port: admin}
          volumeMounts:
            - name: config
              mountPath: /etc/authgate
      volumes:
        - name: config
          configMap:
            name: authgate-config
---
apiVersion: v1
kind: Service
metadata:
  name: authgate
spec:
  selector: {app: authgate}
  ports:
    - port: 80
      targetPort: 8080
)";

const char* kOldDockerfile = R"(FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN cmake --build build --target authgate authgate-demo-backend

FROM debian:12-slim
RUN useradd --system --no-create-home --shell /usr/sbin/nologin authgate
COPY --from=build /src/build/authgate /src/build/authgate-demo-backend /usr/local/bin/
COPY config/ /etc/authgate/
USER authgate
ENTRYPOINT ["/usr/local/bin/authgate"]
CMD ["-c", "/etc/authgate/authgate.yaml"]
)";

std::vector<YAML::Node> old_manifests() {
    std::vector<YAML::Node> docs;
    for (const auto& d : YAML::LoadAll(kOldManifest))
        if (d.IsMap()) docs.push_back(d);
    return docs;
}

bool mentions(const Problems& p, const std::string& what) {
    return std::any_of(p.begin(), p.end(), [&](const std::string& s) { return s.find(what) != std::string::npos; });
}

// ---- the current artefacts ----

TEST(Manifests, AllParseAndKustomizationListsEveryFile) {
    const auto docs = load_manifests();
    ASSERT_FALSE(docs.empty());
    for (const auto& d : docs) {
        EXPECT_TRUE(d["apiVersion"] && d["kind"] && d["metadata"]["name"]) << YAML::Dump(d);
    }
    const YAML::Node k = YAML::LoadFile((kManifestDir / "kustomization.yaml").string());
    std::set<std::string> listed;
    for (const auto& r : k["resources"]) listed.insert(r.as<std::string>());
    for (const auto& e : fs::directory_iterator(kManifestDir)) {
        const std::string f = e.path().filename().string();
        if (f != "kustomization.yaml") {
            EXPECT_TRUE(listed.count(f)) << f << " is not in kustomization.yaml";
        }
    }
    for (const auto& f : listed) EXPECT_TRUE(fs::exists(kManifestDir / f)) << f << " listed but missing";
}

TEST(Manifests, RestrictedSecurityContext) {
    const auto p = check_security(load_manifests());
    EXPECT_TRUE(p.empty()) << join(p);
}

TEST(Manifests, ProbesOnAdminPort) {
    const auto p = check_probes(load_manifests());
    EXPECT_TRUE(p.empty()) << join(p);
}

TEST(Manifests, ReferencedConfigMapsAndSecretsExist) {
    const auto p = check_references(load_manifests());
    EXPECT_TRUE(p.empty()) << join(p);
}

TEST(Manifests, PdbAndHpaSelectTheDeployment) {
    const auto p = check_pdb_hpa(load_manifests());
    EXPECT_TRUE(p.empty()) << join(p);
}

TEST(Manifests, GracePeriodCoversPreStopAndDrain) {
    const auto p = check_shutdown(load_manifests());
    EXPECT_TRUE(p.empty()) << join(p);
}

TEST(Dockerfile, NumericUserNoDemoBackendPinnedBaseConfigBaked) {
    const auto p = check_dockerfile(read_text(kSource / "Dockerfile"));
    EXPECT_TRUE(p.empty()) << join(p);
}

TEST(Dockerfile, DockerignoreExcludesBuildDirs) {
    ASSERT_TRUE(fs::exists(kSource / ".dockerignore"));
    const auto p = check_dockerignore(read_text(kSource / ".dockerignore"));
    EXPECT_TRUE(p.empty()) << join(p);
}

// ---- each check fails on what issue #11 complained about ----

TEST(Manifests, ChecksRejectOld) {
    const auto docs = old_manifests();
    const auto sec = check_security(docs);
    for (const char* what : {"runAsNonRoot", "runAsUser", "allowPrivilegeEscalation", "readOnlyRootFilesystem",
                             "capabilities.drop", "seccompProfile"})
        EXPECT_TRUE(mentions(sec, what)) << what << "\n" << join(sec);
    EXPECT_TRUE(mentions(check_probes(docs), "startupProbe missing"));
    EXPECT_TRUE(mentions(check_references(docs), "Secret authgate-secrets is referenced"));
    const auto ph = check_pdb_hpa(docs);
    EXPECT_TRUE(mentions(ph, "no PodDisruptionBudget"));
    EXPECT_TRUE(mentions(ph, "no HorizontalPodAutoscaler"));
    EXPECT_TRUE(mentions(check_shutdown(docs), "no preStop sleep"));
}

TEST(Manifests, ChecksRejectSubtlerMistakes) {
    auto docs = load_manifests();
    // A grace period that the preStop sleep plus the drain would overrun.
    for (auto& d : docs)
        if (d["kind"].as<std::string>() == "Deployment") d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 25;
    EXPECT_TRUE(mentions(check_shutdown(docs), "terminationGracePeriodSeconds"));
    // A PDB and HPA that miss the Deployment.
    docs = load_manifests();
    for (auto& d : docs) {
        if (d["kind"].as<std::string>() == "PodDisruptionBudget") d["spec"]["selector"]["matchLabels"]["app"] = "other";
        if (d["kind"].as<std::string>() == "HorizontalPodAutoscaler") d["spec"]["scaleTargetRef"]["name"] = "other";
    }
    const auto ph = check_pdb_hpa(docs);
    EXPECT_TRUE(mentions(ph, "PDB does not select"));
    EXPECT_TRUE(mentions(ph, "HPA does not target"));
    // Probes on the traffic port.
    docs = load_manifests();
    for (auto& d : docs)
        if (d["kind"].as<std::string>() == "Deployment")
            d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = 8080;
    EXPECT_TRUE(mentions(check_probes(docs), "readinessProbe does not probe the admin port"));
}

TEST(Dockerfile, HealthcheckChecksRejectCurlAndAnotherPort) {
    const std::string dockerfile = read_text(kSource / "Dockerfile");
    const auto replaced = [&](const std::string& from, const std::string& to) {
        auto at = dockerfile.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        return at == std::string::npos ? dockerfile : std::string(dockerfile).replace(at, from.size(), to);
    };
    const std::string cmd = R"(CMD ["/usr/local/bin/authgate", "health", "http://127.0.0.1:9901/readyz"])";
    auto p = check_dockerfile(replaced(cmd, R"(CMD ["curl", "-f", "http://127.0.0.1:9901/readyz"])"));
    EXPECT_TRUE(mentions(p, "HEALTHCHECK does not run [\"/usr/local/bin/authgate\", \"health\", URL]")) << join(p);
    p = check_dockerfile(replaced(cmd, R"(CMD ["/usr/local/bin/authgate", "health", "http://127.0.0.1:9902/readyz"])"));
    EXPECT_TRUE(mentions(p, "HEALTHCHECK probes port 9902, the baked config's admin port is 9901")) << join(p);
    p = check_dockerfile(replaced(cmd, R"(CMD ["/usr/local/bin/authgate", "health", "http://127.0.0.1:8080/api"])"));
    EXPECT_TRUE(mentions(p, "is not http://127.0.0.1:PORT/readyz")) << join(p);
}

TEST(Dockerfile, ChecksRejectOld) {
    const auto p = check_dockerfile(kOldDockerfile);
    EXPECT_TRUE(mentions(p, "is not numeric")) << join(p);
    EXPECT_TRUE(mentions(p, "demo backend is in the final stage")) << join(p);
    EXPECT_TRUE(mentions(p, "debian:12 is not pinned")) << join(p);
    EXPECT_TRUE(mentions(p, "debian:12-slim is not pinned")) << join(p);
    EXPECT_TRUE(mentions(p, "does not COPY a file there")) << join(p);
    EXPECT_TRUE(mentions(p, "no HEALTHCHECK")) << join(p);
    // No .dockerignore at all was the old state: the empty one.
    EXPECT_EQ(check_dockerignore("").size(), 3u);
}

}  // namespace
