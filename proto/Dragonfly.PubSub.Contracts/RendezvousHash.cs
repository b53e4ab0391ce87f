using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// Rendezvous (highest random weight) hashing: each broker gets a score per task from a hash of both names;
/// the task goes to the healthy broker with the highest score, and when that one is lost to the next. Agents
/// that name the same brokers agree without talking, and losing a broker moves only its own tasks. Shared by the
/// agent (<c>BrokerPlacement</c>) and <c>dfbench broker --brokers N</c>, which must place tasks exactly as agents do.
/// </summary>
public static class RendezvousHash
{
    public static ulong Score(string broker, string task)
    {
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(task);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(broker + "\n" + task), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }

    /// <summary>The brokers in the task's order of preference (ties, never seen in practice, by name).</summary>
    public static IReadOnlyList<T> Order<T>(IEnumerable<T> brokers, Func<T, string> nameOf, string task) =>
        brokers.OrderByDescending(b => Score(nameOf(b), task)).ThenBy(nameOf, StringComparer.Ordinal).ToList();
}
