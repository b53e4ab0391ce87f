using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Bench.Ciphers;

/// <summary>
/// <c>dfbench ciphers</c>: what each <c>--tls-ciphers</c> choice costs. Sends SIZE over loopback through
/// SslStream (TLS 1.3, certificates from a throwaway fleet CA) and through plain TCP in the same run, both
/// ends in this process, and prints MB/s and the process's CPU-seconds per GiB. CPU-seconds are the figure
/// to compare on a shared machine; MB/s follows the load.
/// </summary>
public static class CipherCommand
{
    private static readonly string[] Choices = ["plain", "aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"];

    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "Bytes sent per choice and run", DefaultValueFactory = _ => "1GiB" };
        var runs = new Option<int>("--runs") { Description = "Runs per choice (each printed)", DefaultValueFactory = _ => 2 };
        var command = new Command("ciphers", "TLS 1.3 cipher cost over loopback (SslStream) against plain TCP, in one process") { size, runs };
        command.SetAction(async (parse, cancel) =>
        {
            var total = ByteSize.Parse(parse.GetValue(size)!);
            using var ca = FleetCa.Create("dfbench-ciphers");
            Console.WriteLine($"dfbench ciphers: {ByteSize.Format(total)} per run over loopback, load average {File.ReadAllText("/proc/loadavg").Trim()}");
            Console.WriteLine($"{"choice",-18} {"MB/s",8} {"CPU-s/GiB",10}");
            foreach (var choice in Choices)
            {
                for (var run = 0; run < parse.GetValue(runs); run++)
                {
                    var (mbPerSecond, cpuSeconds) = await SendAsync(ca, choice == "plain" ? null : choice, total, cancel);
                    Console.WriteLine($"{choice,-18} {mbPerSecond,8:F0} {cpuSeconds * (1L << 30) / total,10:F2}");
                }
            }
            Console.WriteLine($"load average at the end {File.ReadAllText("/proc/loadavg").Trim()}");
            return 0;
        });
        return command;
    }

    private static async Task<(double MbPerSecond, double CpuSeconds)> SendAsync(FleetCa ca, string? cipher, long total, CancellationToken cancel)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepting = listener.AcceptTcpClientAsync(cancel);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancel);
        using var server = await accepting;
        Stream sender = server.GetStream(), receiver = client.GetStream();
        if (cipher is not null)
        {
            if (!TlsCiphers.TryParse(cipher, out var ciphers, out var error))
            {
                throw new InvalidOperationException(error);
            }
            var serverIdentity = new TlsIdentity([ca.Certificate],
                ca.IssueWithNewKey(new PeerIdentity("bench-server", PeerRole.Agent, []), TimeSpan.FromHours(1), ["localhost"], [IPAddress.Loopback]), ciphers!);
            var clientIdentity = new TlsIdentity([ca.Certificate],
                ca.IssueWithNewKey(new PeerIdentity("bench-client", PeerRole.Agent, []), TimeSpan.FromHours(1)), ciphers!);
            var tlsSender = new SslStream(sender);
            var tlsReceiver = new SslStream(receiver);
            await Task.WhenAll(
                tlsSender.AuthenticateAsServerAsync(serverIdentity.ServerOptions(true), cancel),
                tlsReceiver.AuthenticateAsClientAsync(clientIdentity.ClientOptions("localhost", "bench-server"), cancel));
            sender = tlsSender;
            receiver = tlsReceiver;
        }
        await using (sender)
        await using (receiver)
        {
            var block = new byte[1 << 20];
            Random.Shared.NextBytes(block);
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var writing = Task.Run(async () =>
            {
                for (long sent = 0; sent < total; sent += block.Length)
                {
                    await sender.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, total - sent)), cancel);
                }
                await sender.FlushAsync(cancel);
            }, cancel);
            var reading = Task.Run(async () =>
            {
                var into = new byte[1 << 20];
                for (long got = 0; got < total;)
                {
                    var n = await receiver.ReadAsync(into, cancel);
                    got += n > 0 ? n : throw new EndOfStreamException("the sending side closed early");
                }
            }, cancel);
            await Task.WhenAll(writing, reading);
            clock.Stop();
            var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
            return (total / 1e6 / clock.Elapsed.TotalSeconds, cpu);
        }
    }
}
