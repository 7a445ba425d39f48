// Validate an AsyncAPI document with the official parser (@asyncapi/parser): the document's
// structure against the AsyncAPI JSON Schema, the parser's Spectral rules, every $ref (local
// files included, resolved relative to the document) and every payload schema against the
// meta-schema of its schemaFormat. Prints every diagnostic of severity error or warning; exits
// 1 on any error, 2 on bad usage or a crash.
//
// One check is added: a payload whose schemaFormat has no schema parser in @asyncapi/parser is
// an error here. For AsyncAPI 3 the parser checks such a payload against nothing and reports
// nothing (e.g. `application/schema+json;version=draft-2020-12`), so it would pass unchecked.
//
//   node deploy/tools/asyncapi/validate.mjs schemas/asyncapi.yaml
//
// The parser is loaded from .local/tools/asyncapi, where deploy/tools/asyncapi.sh installs it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOOLS = path.resolve(HERE, '..', '..', '..', '.local', 'tools', 'asyncapi');
if (!existsSync(path.join(TOOLS, 'node_modules', '@asyncapi', 'parser', 'package.json'))) {
  console.error(`@asyncapi/parser is not installed in ${TOOLS}: run \`make tools\``);
  process.exit(2);
}
const { DiagnosticSeverity, Parser, fromFile } = createRequire(path.join(TOOLS, 'package.json'))(
  '@asyncapi/parser',
);

const SEVERITY = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
};

async function main(argv) {
  if (argv.length !== 1) {
    console.error('usage: node validate.mjs ASYNCAPI_FILE');
    return 2;
  }
  const file = path.resolve(argv[0]);
  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, file).parse();
  let errors = 0;
  for (const diagnostic of diagnostics) {
    const severity = SEVERITY[diagnostic.severity];
    if (severity === undefined) continue; // information and hints
    if (severity === 'error') errors += 1;
    const where = diagnostic.path.length ? diagnostic.path.join('.') : '(document)';
    const line = diagnostic.range ? `:${diagnostic.range.start.line + 1}` : '';
    const source = diagnostic.source ? path.relative(process.cwd(), diagnostic.source) : file;
    console.log(`${severity}: ${source}${line} ${where}: ${diagnostic.message} [${diagnostic.code}]`);
  }
  for (const message of document ? document.allMessages() : []) {
    const format = message.schemaFormat();
    if (message.hasPayload() && !parser.parserRegistry.has(format)) {
      errors += 1;
      console.log(
        `error: ${file} message ${message.id()}: payload schemaFormat "${format}" has no ` +
          'schema parser in @asyncapi/parser, so its payload would not be checked [schema-format]',
      );
    }
  }
  if (errors || document === undefined) {
    console.log(`${file}: INVALID, ${errors} error(s)`);
    return 1;
  }
  const info = document.info();
  console.log(
    `${file}: valid AsyncAPI ${document.version()} (${info.title()} ${info.version()}): ` +
      `${document.channels().length} channels, ${document.operations().length} operations, ` +
      `${document.messages().length} messages`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
