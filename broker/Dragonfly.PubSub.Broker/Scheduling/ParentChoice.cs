namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>One parent handed to a child; <see cref="LastResort"/> for the publisher or a seed.</summary>
public readonly record struct ParentChoice(string PeerId, bool LastResort);
