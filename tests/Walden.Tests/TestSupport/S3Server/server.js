// The S3-compatible server of the S3 archive tests (TestSupport/S3Server.cs): s3rver over <directory> on
// 127.0.0.1:<port> (0: a free port), with <bucket> created. Prints "listening <port>" once it accepts requests and
// stops when its standard input closes (the test process ended) or it is killed (the fault tests).
const S3rver = require('s3rver');

const [directory, port, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory,
  silent: true,
  configureBuckets: [{ name: bucket }],
});
server.run().then(
  (address) => process.stdout.write(`listening ${address.port}\n`),
  (error) => {
    process.stderr.write(`s3rver failed to start: ${error.stack || error}\n`);
    process.exit(1);
  });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
