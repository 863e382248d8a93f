// Command stackmesh-go-client runs one scenario against a running stackmesh stack over
// plaintext gRPC, with stubs generated from protos/ (see build.sh), and prints the
// results as one JSON object on stdout. Any failed step exits with status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	commonv1 "stackmesh.dev/gen/stackmesh/common/v1"
	inferencev1 "stackmesh.dev/gen/stackmesh/inference/v1"
)

// Report is everything the scenario observed; its JSON is the program's output.
type Report struct {
	Models       []string      `json:"models"`
	Chat         ChatResult    `json:"chat"`
	Stream       StreamResult  `json:"stream"`
	Search       SearchResult  `json:"search"`
	UnknownModel UnknownResult `json:"unknown_model"`
}

// ChatResult is the outcome of one non-streamed chat completion.
type ChatResult struct {
	Content      string `json:"content"`
	FinishReason string `json:"finish_reason"`
	Usage        Usage  `json:"usage"`
}

// Usage mirrors inferencev1.Usage with snake_case JSON names.
type Usage struct {
	PromptTokens     int32 `json:"prompt_tokens"`
	CompletionTokens int32 `json:"completion_tokens"`
	TotalTokens      int32 `json:"total_tokens"`
}

// StreamResult is the outcome of one streamed chat completion.
type StreamResult struct {
	Chunks       int    `json:"chunks"`
	Text         string `json:"text"`
	FinishReason string `json:"finish_reason"`
	Usage        *Usage `json:"usage"`
}

// UnknownResult is the error a chat completion with a model that does not exist gets.
type UnknownResult struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Domain  string `json:"domain"`
	Param   string `json:"param"`
}

func main() {
	inferenceAddr := flag.String("inference", "127.0.0.1:50051", "address of the inference gRPC service")
	vectorIOAddr := flag.String("vector-io", "127.0.0.1:50053", "address of the vector_io gRPC service")
	chatModel := flag.String("chat-model", "SmolLM2-135M-Instruct", "chat model id")
	embeddingModel := flag.String("embedding-model", "all-MiniLM-L6-v2", "embedding model of the vector store")
	timeout := flag.Duration("timeout", 3*time.Minute, "deadline of the whole scenario")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	report, err := run(ctx, *inferenceAddr, *vectorIOAddr, *chatModel, *embeddingModel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stackmesh-go-client:", err)
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(report); err != nil {
		fmt.Fprintln(os.Stderr, "stackmesh-go-client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, inferenceAddr, vectorIOAddr, chatModel, embeddingModel string) (*Report, error) {
	inferenceConn, err := dial(ctx, inferenceAddr)
	if err != nil {
		return nil, err
	}
	defer inferenceConn.Close()
	vectorIOConn, err := dial(ctx, vectorIOAddr)
	if err != nil {
		return nil, err
	}
	defer vectorIOConn.Close()

	models := inferencev1.NewModelsServiceClient(inferenceConn)
	inference := inferencev1.NewInferenceServiceClient(inferenceConn)
	var report Report
	if report.Models, err = listModels(ctx, models); err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	if report.Chat, err = chat(ctx, inference, chatModel); err != nil {
		return nil, fmt.Errorf("chat completion: %w", err)
	}
	if report.Stream, err = streamChat(ctx, inference, chatModel); err != nil {
		return nil, fmt.Errorf("streamed chat completion: %w", err)
	}
	if report.Search, err = searchUploadedFile(ctx, vectorIOConn, embeddingModel); err != nil {
		return nil, fmt.Errorf("vector store search: %w", err)
	}
	if report.UnknownModel, err = chatWithUnknownModel(ctx, inference); err != nil {
		return nil, fmt.Errorf("chat completion with an unknown model: %w", err)
	}
	return &report, nil
}

// dial connects without TLS, as the services listen in a local stack. WithBlock makes an
// unreachable address fail here, with its address, instead of at the first call.
func dial(ctx context.Context, addr string) (*grpc.ClientConn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(dialCtx, addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return conn, nil
}

func listModels(ctx context.Context, client inferencev1.ModelsServiceClient) ([]string, error) {
	response, err := client.ListModels(ctx, &inferencev1.ListModelsRequest{})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(response.GetData()))
	for _, model := range response.GetData() {
		ids = append(ids, model.GetId())
	}
	return ids, nil
}

// chatRequest asks for a short, deterministic answer to one user message.
func chatRequest(model string) *inferencev1.CreateChatCompletionRequest {
	return &inferencev1.CreateChatCompletionRequest{
		Model: model,
		Messages: []*commonv1.ChatMessage{
			// content is a google.protobuf.Value because OpenAI also accepts an array of parts.
			{Role: "user", Content: structpb.NewStringValue("Say hello.")},
		},
		MaxTokens:   proto.Int32(8),
		Temperature: proto.Float64(0),
	}
}

func chat(ctx context.Context, client inferencev1.InferenceServiceClient, model string) (ChatResult, error) {
	response, err := client.CreateChatCompletion(ctx, chatRequest(model))
	if err != nil {
		return ChatResult{}, err
	}
	if len(response.GetChoices()) == 0 {
		return ChatResult{}, errors.New("the completion has no choices")
	}
	choice := response.GetChoices()[0]
	return ChatResult{
		Content:      choice.GetMessage().GetContent(),
		FinishReason: choice.GetFinishReason(),
		Usage:        usage(response.GetUsage()),
	}, nil
}

func streamChat(ctx context.Context, client inferencev1.InferenceServiceClient, model string) (StreamResult, error) {
	request := chatRequest(model)
	request.StreamOptions = &inferencev1.StreamOptions{IncludeUsage: proto.Bool(true)}
	stream, err := client.StreamChatCompletion(ctx, request)
	if err != nil {
		return StreamResult{}, err
	}
	var result StreamResult
	var text strings.Builder
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return StreamResult{}, fmt.Errorf("after %d chunks: %w", result.Chunks, err)
		}
		result.Chunks++
		for _, choice := range chunk.GetChoices() {
			text.WriteString(choice.GetDelta().GetContent())
			if choice.FinishReason != nil {
				result.FinishReason = choice.GetFinishReason()
			}
		}
		// include_usage: the last chunk has no choices and carries the whole request's usage.
		if chunk.GetUsage() != nil {
			u := usage(chunk.GetUsage())
			result.Usage = &u
		}
	}
	result.Text = text.String()
	return result, nil
}

// chatWithUnknownModel expects NOT_FOUND and decodes the google.rpc.ErrorInfo the services
// attach to every error (its reason is the OpenAI error code, metadata["param"] the field).
func chatWithUnknownModel(ctx context.Context, client inferencev1.InferenceServiceClient) (UnknownResult, error) {
	_, err := client.CreateChatCompletion(ctx, chatRequest("no-such-model"))
	if err == nil {
		return UnknownResult{}, errors.New("the call succeeded")
	}
	st, ok := status.FromError(err)
	if !ok {
		return UnknownResult{}, fmt.Errorf("not a gRPC status: %w", err)
	}
	result := UnknownResult{Code: st.Code().String(), Message: st.Message()}
	for _, detail := range st.Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			result.Reason = info.GetReason()
			result.Domain = info.GetDomain()
			result.Param = info.GetMetadata()["param"]
		}
	}
	if result.Reason == "" {
		return UnknownResult{}, fmt.Errorf("%s status without a google.rpc.ErrorInfo detail: %v", st.Code(), err)
	}
	return result, nil
}

func usage(u *inferencev1.Usage) Usage {
	return Usage{
		PromptTokens:     u.GetPromptTokens(),
		CompletionTokens: u.GetCompletionTokens(),
		TotalTokens:      u.GetTotalTokens(),
	}
}
