"""Typed clients generated from docs/openapi.json, checked as an API consumer would use them
(README, "Generated clients").

  clients.py build
      Generates the document with four generators: openapi-python-client and @hey-api/openapi-ts
      (the clients we ship) and openapi-generator's `python` and `typescript-fetch`, all with their
      default settings. Fails on any generator warning about this document, type-checks every
      client (`mypy --strict`, `tsc --strict`) and packages the two shipped clients, version-stamped
      from the document's `info.version`, into target/clients/dist: a wheel and an npm tarball.
  clients.py story BASE_URL ADMIN PASSWORD
      Installs both packages as users would and runs the user story through each against the API
      (tests/clients/story.py and story.ts), and type-checks the README's two examples against them.

A generator's warnings about itself are told apart from warnings about this document by a
baseline: the same generator on a one-operation, one-schema document. What it says there it says
of any document. Likewise openapi-generator's Python templates fail some `mypy --strict` checks on
that baseline document: an error of this document's client is not counted when the baseline's has
the same error code in the same file (or, for the per-operation and per-schema files, in a file of
the same folder); any other fails.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs/openapi.json"
OUT = ROOT / "target/clients"
DIST = OUT / "dist"
BIN = ROOT / "node_modules/.bin"
PYTHON_PACKAGE = "habit_tracker_api_client"  # openapi-python-client's name for the document's title
NPM_PACKAGE = "habit-tracker-api-client"

# openapi-generator checks every parameter name as if it were to name a model. The query
# parameter `from` (a Python keyword) and the path parameter `date` (`datetime.date` in Python,
# `Date` in TypeScript) are renamed in the generated code (`var_from`, `var_date`); no model is
# renamed and the wire names stay. Each must still be said (a stale entry fails too).
RESERVED_WORD_RENAMES = {
    "python": [
        "From (reserved word) cannot be used as model name. Renamed to ModelFrom",
        "Date (reserved word) cannot be used as model name. Renamed to ModelDate",
    ],
    "typescript-fetch": [
        "Date (model name matches existing language type) cannot be used as a model name. Renamed to ModelDate",
    ],
}

# The baseline uses what most documents use: a server variable without `enum` (a stack's API id
# cannot be listed), a pattern, an enum, nullable fields. openapi-generator's Python templates
# fail `mypy --strict` on each (`enum_values` required of every server variable, validators without
# annotations, nullable fields' serializers).
BASELINE = {
    "openapi": "3.1.0",
    "info": {"title": "Baseline", "version": "1.0.0"},
    "servers": [{"url": "https://{host}.example.com", "variables": {"host": {"default": "api"}}}],
    "paths": {
        "/things/{id}": {
            "get": {
                "operationId": "getThing",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "A thing",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z]+$"},
                    "kind": {"type": "string", "enum": ["big", "small"]},
                    "note": {"type": ["string", "null"]},
                    "size": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Size"}]},
                },
            },
            "Size": {"type": "object", "properties": {"width": {"type": "integer"}}},
        }
    },
}


def run(*cmd: object, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """Runs a command; its output (stdout and stderr together), or exits with it on failure."""
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env={**os.environ, **(env or {})},
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit(f"clients: {' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}")
    return p.stdout


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def fail(what: str) -> None:
    sys.exit(f"clients: {what}")


def warnings_of(output: str) -> list[str]:
    """The warning and error lines of a generator's output, without their logger prefixes."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in output.splitlines()]
    found = [line for line in lines if re.search(r"\b(warn(ing)?|error)\b", line, re.IGNORECASE)]
    return [re.sub(r"^\[main\] (WARN|ERROR) +\S+ - ", "", line) for line in found]


def openapi_generator(generator: str, spec: Path, out: Path) -> list[str]:
    return warnings_of(run(shutil.which("openapi-generator-cli") or "openapi-generator-cli",
                           "generate", "-i", spec, "-g", generator, "-o", fresh(out)))


def check_openapi_generator(generator: str) -> Path:
    out = OUT / "openapi-generator" / generator
    baseline_spec = OUT / "baseline.json"
    baseline_spec.write_text(json.dumps(BASELINE))
    noise = set(openapi_generator(generator, baseline_spec, OUT / "baseline" / generator))
    said = openapi_generator(generator, SPEC, out)
    allowed = RESERVED_WORD_RENAMES.get(generator, [])
    about_us = sorted({w for w in said if w not in noise and w not in allowed})
    if about_us:
        fail(f"openapi-generator {generator} warns about docs/openapi.json:\n  " + "\n  ".join(about_us))
    stale = [w for w in allowed if w not in said]
    if stale:
        fail(f"openapi-generator {generator} no longer says (remove it from RESERVED_WORD_RENAMES): {stale}")
    print(f"openapi-generator {generator}: no warning about the document "
          f"({len(set(said) & noise)} about the generator itself, {len(allowed)} reserved-word renames)")
    return out


def mypy(*args: object, cwd: Path) -> list[str]:
    # Against this interpreter's packages: the ones `pip install` below puts the clients in.
    p = subprocess.run(["mypy", "--strict", "--no-incremental", "--python-executable", sys.executable, *map(str, args)], cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return [line for line in p.stdout.splitlines() if ": error:" in line]


def template_error(line: str) -> tuple[str, str]:
    """A mypy error as (file kind, error code): `api/*` and `models/*` files are one kind each."""
    path = Path(line.split(":", 1)[0])
    kind = f"{path.parent}/*" if path.parent.name in ("api", "models") else str(path)
    return kind, line.rsplit("[", 1)[-1].rstrip("]")


def tsc(project: Path) -> None:
    out = subprocess.run([BIN / "tsc", "-p", project], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if out.returncode != 0:
        fail(f"tsc --strict ({project}):\n{out.stdout}")


def build() -> None:
    version = json.loads(SPEC.read_text())["info"]["version"]
    OUT.mkdir(parents=True, exist_ok=True)
    fresh(DIST).mkdir()
    checks = 0

    # openapi-python-client, default settings: the shipped Python client.
    python = fresh(OUT / "python")
    said = warnings_of(run("openapi-python-client", "generate", "--path", SPEC, "--output-path", python))
    if said:
        fail("openapi-python-client warns:\n  " + "\n  ".join(said))
    errors = mypy(PYTHON_PACKAGE, cwd=python)
    if errors:
        fail("mypy --strict on the openapi-python-client client:\n" + "\n".join(errors))
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", DIST, python)
    print(f"openapi-python-client: no warning, mypy --strict clean, {PYTHON_PACKAGE} {version} wheel")
    checks += 3

    # @hey-api/openapi-ts: the shipped TypeScript client, an ES module package with its types.
    typescript = fresh(OUT / "typescript")
    typescript.mkdir()
    said = warnings_of(run(BIN / "openapi-ts", "-f", ROOT / "clients/typescript/openapi-ts.config.mjs",
                           env={"CLIENT_SPEC": str(SPEC), "CLIENT_OUT": str(typescript / "src")}))
    if said:
        fail("@hey-api/openapi-ts warns:\n  " + "\n  ".join(said))
    package = {
        "name": NPM_PACKAGE,
        "version": version,
        "description": "Typed client of the Habit Tracker API, generated from its OpenAPI document",
        "type": "module",
        "main": "dist/index.js",
        "types": "dist/index.d.ts",
        "exports": {
            ".": {"types": "./dist/index.d.ts", "default": "./dist/index.js"},
            "./client": {"types": "./dist/client/index.d.ts", "default": "./dist/client/index.js"},
        },
        "files": ["dist"],
    }
    # Written before compiling: `"type": "module"` makes tsc (NodeNext) emit ES modules.
    (typescript / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    shutil.copy(ROOT / "clients/typescript/tsconfig.json", typescript)
    tsc(typescript)
    run("npm", "pack", "--silent", "--pack-destination", DIST, cwd=typescript)
    print(f"@hey-api/openapi-ts: no warning, tsc --strict clean, {NPM_PACKAGE} {version} npm package")
    checks += 3

    # openapi-generator (its PyPI wheel carries the jar), default settings: checked, not shipped.
    generated = check_openapi_generator("python")
    baseline_errors = mypy("openapi_client", cwd=OUT / "baseline/python")
    of_templates = {template_error(line) for line in baseline_errors}
    errors = mypy("openapi_client", cwd=generated)
    ours = [line for line in errors if template_error(line) not in of_templates]
    if ours:
        fail("mypy --strict on the openapi-generator python client:\n" + "\n".join(ours))
    codes = ", ".join(sorted({code for _, code in of_templates}))
    print(f"openapi-generator python: mypy --strict: no error but those its templates make for any document "
          f"({len(errors)} here, {len(baseline_errors)} on the baseline: {codes})")
    generated = check_openapi_generator("typescript-fetch")
    (generated / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "target": "ES2022", "module": "ES2022", "moduleResolution": "bundler",
        "lib": ["ES2022", "DOM", "DOM.Iterable"]}, "include": ["**/*.ts"]}))
    tsc(generated)
    print("openapi-generator typescript-fetch: tsc --strict clean")
    checks += 4
    print(f"clients: {checks} passed")


def story(base_url: str, admin: str, password: str) -> None:
    version = json.loads(SPEC.read_text())["info"]["version"]
    wheel = DIST / f"{PYTHON_PACKAGE}-{version}-py3-none-any.whl"
    tarball = DIST / f"{NPM_PACKAGE}-{version}.tgz"
    if not wheel.exists() or not tarball.exists():
        fail("no packages: run `make clients` first")
    run(sys.executable, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", wheel)
    errors = mypy(ROOT / "tests/clients/story.py", cwd=ROOT)
    if errors:
        fail("mypy --strict on the Python story:\n" + "\n".join(errors))
    said = run(sys.executable, ROOT / "tests/clients/story.py", base_url, admin, password)
    python_example, typescript_example = readme_examples()
    (OUT / "readme_example.py").write_text(python_example)
    errors = mypy(OUT / "readme_example.py", cwd=ROOT)
    if errors:
        fail("mypy --strict on the README's Python example:\n" + "\n".join(errors))

    app = fresh(OUT / "ts-story")
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"private": True, "type": "module"}))
    run("npm", "install", "--silent", "--no-audit", "--no-fund", tarball, cwd=app)
    shutil.copy(ROOT / "tests/clients/story.ts", app)
    (app / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
        "lib": ["ES2022", "DOM", "DOM.Iterable"], "types": ["node"], "typeRoots": [str(ROOT / "node_modules/@types")],
        "outDir": "."}, "files": ["story.ts"]}))
    tsc(app)
    said += run("node", app / "story.js", base_url, admin, password)
    print(said.strip())
    # The README's TypeScript example, compiled (not run) against the installed package.
    (app / "example.ts").write_text(typescript_example)
    config = json.loads((app / "tsconfig.json").read_text())
    config["compilerOptions"]["noEmit"] = True
    (app / "tsconfig.json").write_text(json.dumps({**config, "files": ["example.ts"]}))
    tsc(app)
    print("README examples: mypy --strict and tsc --strict clean against the installed packages")
    steps = sum(int(n) for n in re.findall(r"client: (\d+) passed", said)) + 2
    print(f"clients story: {steps} passed")


def readme_examples() -> tuple[str, str]:
    """The Python and TypeScript examples of the README's "Generated clients" section."""
    section = (ROOT / "README.md").read_text().split("\n## Generated clients\n", 1)[1].split("\n## ", 1)[0]
    blocks = dict(re.findall(r"```(python|ts)\n(.*?)```", section, re.DOTALL))
    if set(blocks) != {"python", "ts"}:
        fail(f"README, \"Generated clients\": a python and a ts example expected, found {sorted(blocks)}")
    return blocks["python"], blocks["ts"]


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        build()
    elif sys.argv[1:2] == ["story"] and len(sys.argv) == 5:
        story(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
