using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>A file published into the content store, and how it got there.</summary>
/// <param name="Guard">
/// Set when the store shares the publisher's file (<see cref="ImportMethod.Linked"/>): the stamp the
/// file must keep for its pieces to be served (see <see cref="Pieces.LocalPieces"/>).
/// </param>
public sealed record ImportResult(Manifest Manifest, ImportMethod Method, FileStamp? Guard);
